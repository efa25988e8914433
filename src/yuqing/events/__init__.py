"""Events (事件): mentions of one story grouped online, with heat, trend and repost chain."""
