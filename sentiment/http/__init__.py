"""The edge: routes, admission, the model routes' one path, uploads, V2, operators."""
