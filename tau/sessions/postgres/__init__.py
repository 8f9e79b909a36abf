"""Sessions in Postgres: `PostgresSessionStore`, the `SessionStore` port and the file store's session operations over
one database that every worker and front end shares (issue #16). Same object format and ids as the file store;
refs + index rows, per-session advisory locks, and a session's events with LISTEN/NOTIFY.

Modules: schema.py (tables, connections, URL display), tables.py (SQL over objects and refs), locks.py (advisory
locks), listing.py (`ls`), store.py (the store), maintenance.py (fsck, gc, reindex, bundles), events.py (events and
`follow`), objects.py (`store.objects`). psycopg is imported only when a store is used.

Imports: tau.errors, tau.redact, tau.sessions, pydantic, pydantic_ai, psycopg and the standard library only.
"""

from tau.sessions.postgres.schema import is_store_url, shown
from tau.sessions.postgres.store import PostgresSessionStore

__all__ = ["PostgresSessionStore", "is_store_url", "shown"]
