"""The Slack app: Bolt's ``AsyncApp`` mounted on the service's aiohttp application."""
