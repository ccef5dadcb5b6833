"""The console's admin actions on letters that are on their way (the dispatch rig: Altinn 3
double, print folder, the test's clock): send a digital letter to print before its deadline,
retry a submit that waits in back-off, stop a letter a viewer could not."""
from __future__ import annotations

from gateway.store.tables import as_utc
from tests.console_helpers import ADMIN, VIEWER, ConsoleClient
from tests.integration.test_dispatch import _send, rig  # noqa: F401 - the fixture
from tests.svarut_builders import PERSON_FNR


def _admin(rig) -> ConsoleClient:  # noqa: F811
    c = ConsoleClient(rig.gw.base_url)
    c.login(ADMIN)
    return c


def test_a_digital_letter_goes_to_print_now_and_its_altinn_delivery_closes(rig):  # noqa: F811
    rig.register(PERSON_FNR, "digital")
    sid = _send(rig)
    rig.drain()
    assert rig.status(sid) == "SENDT_DIGITALT"
    store = rig.gw.runtime.dispatch_store
    [digital] = store.deliveries(shipment_id=sid)
    assert digital.channel == "altinn3" and digital.open
    c = _admin(rig)
    c.get(f"/letters/{sid}")
    assert c.post(f"/letters/{sid}/print", {"reason": "mottakeren har ringt og ber om brev i posten"}).status_code == 303
    rig.drain()
    assert rig.status(sid) == "SENDT_PRINT"
    deliveries = {d.channel: d for d in store.deliveries(shipment_id=sid)}
    assert not deliveries["altinn3"].open and deliveries["print"].status == "SENT_TO_PRINT"
    assert not [j for j in store.pending_jobs(sid) if j["kind"] in ("poll", "deadline")]  # nothing of Altinn's waits any more
    page = c.get(f"/letters/{sid}").text
    assert "manual_print" in page and "mottakeren har ringt" in page and f"({ADMIN})" in page
    assert "Sendt til print" in page


def test_a_submit_in_back_off_is_retried_now(rig):  # noqa: F811
    rig.register(PERSON_FNR, "digital")
    rig.double.fail_next(1)  # Altinn answers 503 once: the submit waits in back-off
    sid = _send(rig)
    rig.drain()
    [job] = [j for j in rig.gw.runtime.dispatch_store.pending_jobs(sid) if j["kind"] == "submit"]
    assert job["attempts"] == 1 and as_utc(job["run_after"]) > rig.clock.now and rig.status(sid) == "AKSEPTERT"
    c = _admin(rig)
    c.get(f"/letters/{sid}")
    assert c.post(f"/letters/{sid}/retry", {"reason": "Altinn svarer igjen"}).status_code == 303
    rig.drain()  # the clock has not moved: only the retry makes it go
    assert rig.status(sid) == "SENDT_DIGITALT"
    viewer = ConsoleClient(rig.gw.base_url)
    viewer.login(VIEWER)
    viewer.get(f"/letters/{sid}")
    assert viewer.post(f"/letters/{sid}/stop", {"reason": "x"}).status_code == 403
    assert c.post(f"/letters/{sid}/stop", {"reason": "sendt feil"}).status_code == 303
    assert rig.status(sid) == "MANUELT_HANDTERT"
