"""Text analysis as pure functions: sentiment, emotion, places, risk."""
