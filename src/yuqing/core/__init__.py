"""Settings, database, time and text helpers shared by every domain."""
