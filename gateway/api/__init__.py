"""HTTP surface: request and reply schemas and the route handlers."""
