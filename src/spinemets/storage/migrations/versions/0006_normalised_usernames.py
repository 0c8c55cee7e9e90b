"""Usernames in their normalised form (NFKC, case-folded).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Sign-in and account creation now normalise names (``spinemets.storage._credentials``). Stored
names are rewritten to that form when the result is valid and unique; a name that cannot be
normalised (spaces, non-ASCII letters) or would collide with another is left as it was (it can
still sign in, typed exactly) and should be renamed by an administrator.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from spinemets.storage._credentials import InvalidUsernameError, normalise_username

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.username)).all()
    taken = {name for _, name in rows}
    for user_id, name in rows:
        try:
            normal = normalise_username(name)
        except InvalidUsernameError:
            continue
        if normal == name or normal in taken:
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(username=normal))
        taken.discard(name)
        taken.add(normal)


def downgrade() -> None:
    """Nothing to undo: the normalised names are valid names."""
