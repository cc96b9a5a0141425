"""The instructor console: one router per area, all under ``/console``."""
