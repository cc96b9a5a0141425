"""Offline measurements on the shared datasets (``python -m service.evaluation.<name>``)."""
