"""GET /r/<code>: the redirect, the click buffer and its flush into PostgreSQL."""

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import DatabaseError, connection

from partners import click_store, services, tracking
from partners.models import Click, Partner
from partners.selectors import click_lookup
from partners.tasks import clicks_flush
from tenancy.scope import all_tenants
from tests.conftest import REPO, database_env, owner_connection
from tests.partners.conftest import scoped, stream_length
from tests.waiting import wait_until


def make_link(world, destination="https://shop.example/tv?utm=x", sub_id="yt"):
    world.tenant.website_url = "https://shop.example"
    world.tenant.save()
    with scoped(world):
        return services.link_create(
            partner=world.partners[0], destination_url=destination, sub_id=sub_id
        )


def click_id_of(response) -> str:
    query = parse_qs(urlsplit(response["Location"]).query)
    return query["pf_click"][0]


@pytest.mark.django_db
def test_redirect_sets_cookie_and_click_param_and_buffers_the_click(
    world_a, anon, django_assert_num_queries
):
    link = make_link(world_a)
    response = anon.get(
        f"/r/{link.code}",
        HTTP_USER_AGENT="Firefox",
        HTTP_REFERER="https://blog.example/post",
        REMOTE_ADDR="10.0.0.1",
    )
    assert response.status_code == 302
    click_id = click_id_of(response)
    code = world_a.partners[0].code
    assert (
        response["Location"] == f"https://shop.example/tv?utm=x&pf_click={click_id}&pf_ref={code}"
    )
    cookie = response.cookies["pf_click"]
    assert cookie.value == click_id
    assert cookie["max-age"] == 30 * 24 * 3600
    assert cookie["httponly"] is True
    with all_tenants():
        assert Click.unscoped.filter(pk=click_id).count() == 0  # nothing written on the hot path
    assert stream_length() == 1
    # Cached: the second visit touches no database at all.
    with django_assert_num_queries(0):
        assert anon.get(f"/r/{link.code.upper()}", REMOTE_ADDR="10.0.0.2").status_code == 302
    assert stream_length() == 2

    result = click_store.clicks_flush()
    assert result == {"read": 2, "inserted": 2}
    with all_tenants():
        click = Click.unscoped.get(pk=click_id)
    assert (click.tenant_id, click.partner_id, click.link_id) == (
        world_a.tenant.pk,
        link.partner_id,
        link.pk,
    )
    assert (click.user_agent, click.referrer, click.sub_id) == (
        "Firefox",
        "https://blog.example/post",
        "yt",
    )
    assert click.ip_hash == tracking.ip_hash("10.0.0.1")
    assert "10.0.0.1" not in click.ip_hash
    assert stream_length() == 0


@pytest.mark.django_db
def test_unknown_or_inactive_code_is_a_404_and_records_nothing(world_a, anon):
    assert anon.get("/r/nosuchcode").status_code == 404
    link = make_link(world_a)
    assert anon.get(f"/r/{link.code}").status_code == 302  # now cached
    with scoped(world_a):
        services.link_deactivate(link=link)
    response = anon.get(f"/r/{link.code}")
    assert response.status_code == 404
    assert "pf_click" not in response.cookies
    assert stream_length() == 1


@pytest.mark.django_db
def test_suspended_partner_redirects_without_an_attributable_click(world_a, anon):
    link = make_link(world_a)
    assert anon.get(f"/r/{link.code}").status_code == 302  # cached as attributable
    with scoped(world_a):
        services.partner_suspend(partner=world_a.partners[0], reason="Fraud", by=world_a.owner)
    response = anon.get(f"/r/{link.code}")
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/tv?utm=x"
    assert "pf_click" not in response.cookies
    assert stream_length() == 1
    with all_tenants():
        Partner.unscoped.filter(pk=link.partner_id).update(status="archived")
    tracking.link_cache_invalidate([link.code])
    assert anon.get(f"/r/{link.code}").status_code == 404


@pytest.mark.django_db
def test_click_flood_is_rate_limited_per_visitor_and_link(world_a, anon):
    world_a.tenant.click_rate_limit_per_minute = 3
    link = make_link(world_a)  # saves the tenant too
    responses = [anon.get(f"/r/{link.code}", REMOTE_ADDR="10.1.1.1") for _ in range(5)]
    assert [r.status_code for r in responses] == [302] * 5
    assert ["pf_click=" in r["Location"] for r in responses] == [True, True, True, False, False]
    assert responses[4]["Location"] == "https://shop.example/tv?utm=x"
    assert anon.get(f"/r/{link.code}", REMOTE_ADDR="10.1.1.2").status_code == 302
    assert stream_length() == 4
    assert click_store.clicks_flush()["inserted"] == 4


@pytest.mark.django_db
def test_click_lookup_finds_buffered_and_flushed_clicks_of_this_program_only(
    world_a, world_b, anon
):
    link = make_link(world_a)
    click_id = click_id_of(anon.get(f"/r/{link.code}"))
    with scoped(world_a):
        info = click_lookup(click_id)
        assert info is not None
        assert (str(info.id), info.partner_id, info.link_id) == (click_id, link.partner_id, link.pk)
    with scoped(world_b):
        assert click_lookup(click_id) is None
    click_store.clicks_flush()
    tracking.redis_client().delete(tracking.click_key(click_id))
    with scoped(world_a):
        info = click_lookup(click_id)
        assert info is not None
        assert info.partner_id == link.partner_id
        assert click_lookup(uuid.uuid4()) is None
        assert click_lookup("garbage") is None
    with scoped(world_b):
        assert click_lookup(click_id) is None


@pytest.mark.django_db
def test_a_redelivered_batch_inserts_nothing_twice(world_a, anon):
    """A worker wrote a batch and died before XACK: the entries stay pending, the next run
    claims them again, and the conflict clause keeps the count exact."""
    link = make_link(world_a)
    for n in range(7):
        anon.get(f"/r/{link.code}", REMOTE_ADDR=f"10.2.0.{n}")
    client, stream = tracking.redis_client(), tracking.stream_key()
    click_store._ensure_group(client, stream)
    reply = client.xreadgroup(click_store.GROUP, "dead-worker", {stream: ">"}, count=5)
    assert isinstance(reply, list)  # RESP2: [[stream, [(id, fields), ...]]]
    entries = reply[0][1]
    rows = [click_store.click_row(json.loads(fields[b"c"])) for _id, fields in entries]
    assert click_store.clicks_write(rows) == 5
    # ... and died here, without acknowledging.
    assert client.xpending(stream, click_store.GROUP)["pending"] == 5
    assert click_store.clicks_flush(claim_idle_ms=60_000) == {
        "read": 2,
        "inserted": 2,
    }  # not idle long enough yet
    assert click_store.clicks_flush(claim_idle_ms=0) == {"read": 5, "inserted": 0}
    with all_tenants():
        assert Click.unscoped.filter(link=link).count() == 7
    assert client.xpending(stream, click_store.GROUP)["pending"] == 0
    assert stream_length() == 0


@pytest.mark.django_db(transaction=True)
def test_clicks_of_a_deleted_partner_do_not_hold_up_the_others(world_a, anon, caplog):
    """A partner (or a whole program) deleted while their clicks wait in the buffer: those
    clicks are dropped, with a warning, and everyone else's are written and acknowledged — the
    tenant key, checked at commit, would otherwise fail the batch on every run."""
    kept = make_link(world_a)
    gone_partner = world_a.partners[1]
    with scoped(world_a):
        gone = services.link_create(
            partner=gone_partner, destination_url="https://shop.example/", sub_id=""
        )
    for n in range(3):
        anon.get(f"/r/{kept.code}", REMOTE_ADDR=f"10.5.0.{n}")
        anon.get(f"/r/{gone.code}", REMOTE_ADDR=f"10.5.1.{n}")
    with all_tenants():
        Partner.unscoped.filter(pk=gone_partner.pk).delete()
    assert click_store.clicks_flush(claim_idle_ms=0) == {"read": 6, "inserted": 3}
    with all_tenants():
        assert Click.unscoped.filter(link=kept).count() == 3
        assert not Click.unscoped.filter(partner_id=gone_partner.pk).exists()
    assert stream_length() == 0
    assert "dropped 3 buffered clicks of deleted partners or programs" in caplog.text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_clicks_recorded_while_no_worker_runs_are_written_exactly_once(world_a, anon, request):
    link = make_link(world_a)
    click_ids = {
        click_id_of(anon.get(f"/r/{link.code}", REMOTE_ADDR=f"10.3.{n // 200}.{n % 200}"))
        for n in range(300)
    }
    assert len(click_ids) == 300
    with all_tenants():
        assert Click.unscoped.filter(link=link).count() == 0
    worker = request.getfixturevalue("celery_worker")  # the worker starts only now
    clicks_flush.delay()
    clicks_flush.delay()  # a second, overlapping run must not double anything
    # The flush writes the rows, then empties the stream: wait for both.
    with all_tenants():
        assert wait_until(
            lambda: Click.unscoped.filter(link=link).count() >= 300 and stream_length() == 0
        )
    clicks_flush.delay()
    time.sleep(1)  # a third run finds nothing to write
    with all_tenants():
        written = set(map(str, Click.unscoped.filter(link=link).values_list("id", flat=True)))
    assert written == click_ids, "".join(worker.log[-30:])
    assert stream_length() == 0


@pytest.mark.django_db
def test_program_settings_changes_reach_cached_links(world_a, anon):
    link = make_link(world_a)
    assert "pf_click=" in anon.get(f"/r/{link.code}", REMOTE_ADDR="10.4.0.1")["Location"]
    world_a.tenant.click_rate_limit_per_minute = 1  # saved through the model: the signal fires
    world_a.tenant.save()
    assert "pf_click=" not in anon.get(f"/r/{link.code}", REMOTE_ADDR="10.4.0.1")["Location"]
    link.destination_url = "https://shop.example/new"  # an admin edit of the link
    with scoped(world_a):
        link.save()
    assert anon.get(f"/r/{link.code}", REMOTE_ADDR="10.4.0.2")["Location"].startswith(
        "https://shop.example/new?pf_click="
    )


@contextmanager
def click_commit_trigger(body: str):
    """A deferred trigger on the click table: ``body`` (PL/pgSQL) runs as a transaction that
    inserted clicks commits. Created by the owner: the app role may not change the schema."""
    table = Click._meta.db_table
    with owner_connection(autocommit=True) as owner:
        owner.execute(
            "CREATE FUNCTION pf_test_click_commit() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {body}; RETURN NULL; END $$"
        )
        owner.execute(
            f"CREATE CONSTRAINT TRIGGER pf_test_click_commit AFTER INSERT ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pf_test_click_commit()"
        )
    try:
        yield
    finally:
        with owner_connection(autocommit=True) as owner:
            owner.execute(f"DROP TRIGGER pf_test_click_commit ON {table}")
            owner.execute("DROP FUNCTION pf_test_click_commit()")


def written(link) -> set[str]:
    """The ids of the link's clicks in PostgreSQL (read across programs, as the flush writes)."""
    with all_tenants():
        return set(map(str, Click.unscoped.filter(link=link).values_list("id", flat=True)))


def pending() -> int:
    return tracking.redis_client().xpending(tracking.stream_key(), click_store.GROUP)["pending"]


@pytest.mark.django_db(transaction=True)
def test_a_flush_whose_commit_fails_keeps_every_click_in_the_buffer(world_a, anon):
    link = make_link(world_a)
    sent = {click_id_of(anon.get(f"/r/{link.code}", REMOTE_ADDR=f"10.6.0.{n}")) for n in range(4)}
    with click_commit_trigger("RAISE EXCEPTION 'commit refused'"):
        with pytest.raises(DatabaseError, match="commit refused"):
            click_store.clicks_flush()
        assert not written(link)
        assert (stream_length(), pending()) == (4, 4)  # read, neither acknowledged nor deleted
    assert click_store.clicks_flush(claim_idle_ms=0) == {"read": 4, "inserted": 4}
    assert written(link) == sent
    assert (stream_length(), pending()) == (0, 0)


def _sleeping_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event = 'PgSleep'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_flush_worker_killed_before_its_commit_loses_no_click(world_a, anon):
    """A worker process reads the buffer and is killed (SIGKILL) while it commits: its
    PostgreSQL session goes too, nothing is written; the entries wait, pending, for the next
    flush, which writes each click once."""
    link = make_link(world_a)
    sent = {click_id_of(anon.get(f"/r/{link.code}", REMOTE_ADDR=f"10.7.0.{n}")) for n in range(5)}
    code = (
        "import django; django.setup()\n"
        "from partners.click_store import clicks_flush; clicks_flush()\n"
    )
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **database_env(),
    }
    with click_commit_trigger("PERFORM pg_sleep(120)"):
        worker = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
        try:
            assert wait_until(lambda: _sleeping_backends() == 1, timeout=90)
        finally:
            worker.kill()
            worker.wait(timeout=30)
        with connection.cursor() as cursor:  # as PostgreSQL ends a session whose client died
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event = 'PgSleep'"
            )
        assert wait_until(lambda: _sleeping_backends() == 0, timeout=30)
    assert not written(link)
    assert (stream_length(), pending()) == (5, 5)
    assert click_store.clicks_flush(claim_idle_ms=0) == {"read": 5, "inserted": 5}
    assert written(link) == sent
    assert (stream_length(), pending()) == (0, 0)
