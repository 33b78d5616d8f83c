"""mask_sql: secret values out of SQL text, and nothing else changed.

The text that is shown is also what is copied, and a statement that holds no secret must
read exactly as the server holds it: a placeholder or an identifier is never a secret.
"""

from __future__ import annotations

import pytest

from perftop.actions.postgres import short
from perftop.collectors.postgres.queries import mask_sql

LEFT_ALONE = [
    "SELECT * FROM users WHERE token = $1",
    "SELECT id FROM accounts WHERE password_hash = $1",
    "UPDATE clients SET api_key = $1 WHERE id = $2",
    "SELECT * FROM t WHERE secret = other_column",
    "SELECT token, password_hash, api_key FROM users",
    "SELECT password_hash FROM u WHERE password_hash = crypt($1, password_hash)",
    'SELECT "password" FROM "Users" WHERE "api_key" = $1',
    "INSERT INTO sessions (token, user_id) VALUES ($1, $2)",
    "SELECT * FROM tokens WHERE id = 5",
    "ALTER ROLE app PASSWORD NULL",
    "SELECT 'no secret here', 42, $1",
    "-- perftop: a comment with nothing to hide\nSELECT 1",
    "SELECT pg_sleep(1)",
    "SELECT 'http://localhost:8000/x'",
    "SELECT $1::text AS token",
]

MASKED = [
    ("ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '****'"),
    (
        "CREATE USER x WITH ENCRYPTED PASSWORD E'hun\\'ter2'",
        "CREATE USER x WITH ENCRYPTED PASSWORD '****'",
    ),
    ("ALTER ROLE x PASSWORD $$hunter2$$", "ALTER ROLE x PASSWORD $$****$$"),
    ("ALTER ROLE x PASSWORD $pw$hunter2$pw$", "ALTER ROLE x PASSWORD $pw$****$pw$"),
    (
        "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password 'hunter2')",
        "CREATE USER MAPPING FOR u SERVER s OPTIONS (user 'u', password '****')",
    ),
    ("SELECT * FROM users WHERE token = 'hunter2'", "SELECT * FROM users WHERE token = '****'"),
    ("SELECT * FROM users WHERE 'hunter2' = token", "SELECT * FROM users WHERE '****' = token"),
    (
        "UPDATE u SET api_key = 'hunter2' WHERE id = $1",
        "UPDATE u SET api_key = '****' WHERE id = $1",
    ),
    ("SELECT * FROM u WHERE pin_secret = 123456", "SELECT * FROM u WHERE pin_secret = ****"),
    (
        "SELECT * FROM u WHERE \"api_key\" <> 'hunter2'",
        "SELECT * FROM u WHERE \"api_key\" <> '****'",
    ),
    ("SET app.token TO 'hunter2'", "SET app.token TO '****'"),
    ("SELECT f(token => 'hunter2')", "SELECT f(token => '****')"),
    (
        "SELECT dblink_connect('host=db password=hunter2 dbname=x')",
        "SELECT dblink_connect('host=db password=**** dbname=x')",
    ),
    (
        "SELECT dblink('postgresql://app:hunter2@db/x', 'select 1')",
        "SELECT dblink('postgresql://app:****@db/x', 'select 1')",
    ),
    ("SELECT 1 -- password=hunter2", "SELECT 1 -- password=****"),
    ("SELECT 1 /* token: hunter2 */", "SELECT 1 /* token: **** */"),
    # Cut short by pg_stat_activity (track_activity_query_size), inside the secret:
    ("CREATE ROLE x PASSWORD 'hunt", "CREATE ROLE x PASSWORD '****'"),
    ("SELECT dblink('postgresql://app:hunt", "SELECT dblink('postgresql://app:****"),
    ("SELECT dblink('postgresql://app:1234", "SELECT dblink('postgresql://app:****"),
    (
        "SELECT dblink_connect('host=db password=hunt",
        "SELECT dblink_connect('host=db password=****",
    ),
]


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_sql_without_a_secret_is_left_exactly_as_it_was(text: str) -> None:
    assert mask_sql(text) == text


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_secret_values_are_masked_and_only_they(text: str, expected: str) -> None:
    assert mask_sql(text) == expected


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_masking_twice_changes_nothing_more(text: str, expected: str) -> None:
    assert mask_sql(mask_sql(text)) == mask_sql(text)


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_the_short_form_of_sql_without_a_secret_keeps_its_words(text: str) -> None:
    assert short(text, 200) == " ".join(text.split())


def test_the_short_form_masks_before_it_cuts() -> None:
    text = "SELECT * FROM a_rather_long_table_name WHERE token = 'hunter2hunter2hunter2'"
    for limit in range(40, 80):
        assert "hunt" not in short(text, limit)
