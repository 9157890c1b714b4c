"""scim2-server as the report bench serves it: its ASGI application over its in-memory storage.

Run by the bench as `python -m uvicorn --app-dir harness/benches scim2_server_asgi:app ...`.
"""

from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.utils import load_default_provider

app = ASGIApplication(AsyncInMemoryStorage(), load_default_provider())
