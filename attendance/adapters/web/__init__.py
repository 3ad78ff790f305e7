"""The browser and API side: the REST API (``/api/v1``), the dashboard pages, the kiosk."""
