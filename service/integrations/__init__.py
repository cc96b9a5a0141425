"""Standard protocols the service speaks with other systems (LTI 1.3 Advantage)."""
