"""Who may use a session: its token, creation, resolution, request budgets."""
