"""The edge: routes, admission, refusals, uploads, the guard, V2, operator endpoints."""
