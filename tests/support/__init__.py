"""Test helpers that run real processes: the server and worker as subprocesses, a TCP proxy."""
