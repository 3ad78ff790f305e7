"""The Microsoft Teams app (Microsoft 365 Agents SDK on /api/messages)."""
