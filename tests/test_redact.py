"""redact(): passwords out, everything else left exactly as it was."""

from __future__ import annotations

import pytest

from perftop.redact import MASK, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/prod", f"postgresql://app:{MASK}@db:5432/prod"),
        ("psql postgres://u:p%40ss@10.0.0.1/x", f"psql postgres://u:{MASK}@10.0.0.1/x"),
        ("redis://:s3cret@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("https://bot:tok3n@example.com/hook", f"https://bot:{MASK}@example.com/hook"),
    ],
)
def test_url_passwords(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PGPASSWORD=s3cret psql -h db", f"PGPASSWORD={MASK} psql -h db"),
        ("app --password=s3cret --port 80", f"app --password={MASK} --port 80"),
        ("host=db user=app password=s3cret dbname=x", f"host=db user=app password={MASK} dbname=x"),
        ("password='two words' dbname=x", f"password={MASK} dbname=x"),
        ('token: "abc def"', f"token: {MASK}"),
        ("API_KEY=abc123 run", f"API_KEY={MASK} run"),
        ("--db-password=s3cret", f"--db-password={MASK}"),
        ("client_secret=abc", f"client_secret={MASK}"),
        ("pwd=x1 passwd=x2", f"pwd={MASK} passwd={MASK}"),
    ],
)
def test_key_value_pairs(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql --password s3cret -h db", f"mysql --password {MASK} -h db"),
        ("tool --token abc --secret def", f"tool --token {MASK} --secret {MASK}"),
        ("curl --api-key k --fail", f"curl --api-key {MASK} --fail"),
        ("app --PASSWORD Hunter2", f"app --PASSWORD {MASK}"),
    ],
)
def test_long_options_with_a_separate_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/usr/bin/python3 -m http.server 8000",
        "postgres: app prod 10.0.0.5(51234) idle",
        "nginx: worker process",
        "ssh -p 2222 user@host",  # user@host is not a URL with a password
        "git clone https://github.com/a/b.git",
        "psql postgresql://app@db/prod",  # no password in the URL
        "java -Xmx4g -Dfile.encoding=UTF-8 -jar app.jar --port 8080",
        "/usr/sbin/sshd -D -o PasswordAuthentication=no",
        "[kworker/0:1-events]",
        "python manage.py runserver 0.0.0.0:8000",
        "echo 'a=b c=d' | grep x",
    ],
)
def test_ordinary_command_lines_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_secret_is_gone_wherever_it_was() -> None:
    line = "run postgresql://a:hunter2@h/x --password hunter2 password=hunter2"
    assert "hunter2" not in redact(line)
    assert redact(line).count(MASK) == 3


def test_redact_is_idempotent() -> None:
    once = redact("x --password=s3cret postgresql://a:b@h/x")
    assert redact(once) == once


@pytest.mark.parametrize("text", ["AWS_SECRET_ACCESS_KEY=abc123", "secret_key: abc123"])
def test_a_secret_word_inside_a_longer_key_is_masked(text: str) -> None:
    assert "abc123" not in redact(text)


def test_an_at_sign_inside_a_url_password_is_masked_whole() -> None:
    assert "ss" not in redact("postgresql://u:p@ss@h/db").split("@", 1)[1]


def test_a_quoted_long_option_value_is_masked_whole() -> None:
    assert redact('app --password "two words" -v') == "app --password **** -v"


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM sessions WHERE token = $1",
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        "SELECT * FROM keys WHERE api_key=$3 AND secret_id = $12",
    ],
)
def test_a_placeholder_is_no_secret(text: str) -> None:
    # SQL in the audit file passes through here after mask_sql: a `$n` placeholder holds no
    # value, and masking it would record a statement that never ran.
    assert redact(text) == text


def test_a_value_that_only_starts_like_a_placeholder_is_masked() -> None:
    assert redact("token=$1abc") == "token=****"
    assert redact("--password=$ecret") == "--password=****"
