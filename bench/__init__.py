"""Side-by-side benchmark of the service against the classic FastAPI design."""
