"""Browser sign-in sessions for the console (and, later, LTI launches)."""
