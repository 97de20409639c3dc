"""The control plane: runtime state shared by every replica (routing table, quotas, client keys), versioned."""
