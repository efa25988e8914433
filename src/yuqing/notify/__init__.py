"""Notifications (通知): the durable outbox, group channels, e-mail, webhooks and the desk inbox."""
