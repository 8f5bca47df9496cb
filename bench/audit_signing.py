"""The cost of signed tree heads on search throughput, in one run.

    .venv/bin/python -m bench.audit_signing [--searches 150] [--rounds 2]

Searches are created through the portal's own action (do_create_search: probe file, search row, usage hold,
audit event with its Merkle leaf), the job left unqueued so that only the write path is timed. Rounds
alternate between no signer, a signer thread that signs a head every second (300 times the portal's most
frequent cadence, one head per log every five minutes), and one that signs back to back for the whole round
(re-reading the log's leaves each time, and competing for the same interpreter): an upper bound of the cost.
"""
import argparse
import threading
import time
from unittest import mock

import bench.common as common

common.setup_django()

from django.db import connections  # noqa: E402

from audit.heads import in_chain_transaction, sign_head  # noqa: E402
from audit.models import AuditTreeHead  # noqa: E402
from core.tenancy import tenant_transaction  # noqa: E402
from search import actions  # noqa: E402
from search.images import check_image  # noqa: E402
from search.validation import SearchParameters  # noqa: E402

PROBE = check_image((common.FACES_DIR / "obama_small.jpg").read_bytes())


def create_searches(agency, user, count: int) -> float:
    started = time.perf_counter()
    with mock.patch("search.actions.dispatch_on_commit"):
        for index in range(count):
            with tenant_transaction(agency.pk, user_id=user.pk):
                actions.do_create_search(agency=agency, actor=user, probe=PROBE, purpose="other",
                                         case_number=f"BENCH-{index}", galleries=[],
                                         parameters=SearchParameters(min_similarity=50, max_candidates=5))
    return count / (time.perf_counter() - started)


def signer(agency, stop: threading.Event, signed: list, pause: float) -> None:
    try:
        while not stop.is_set():
            with in_chain_transaction(agency.pk):
                sign_head(str(agency.code))
            signed.append(1)
            stop.wait(pause)
    finally:
        connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--searches", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    from accounts.models import Agency

    agency = Agency.objects.get_or_create(name="Bench agency", defaults={"kind": "law_enforcement", "country": "FR"})[0]
    with tenant_transaction(agency.pk):  # the bench's rows are the agency's, under row-level security
        common.license_for_benchmarks(agency)
        user = common.bench_member(agency, f"investigator-{agency.code.hex[:8]}@bench.example")
    create_searches(agency, user, 10)  # warm-up
    plain, modes, heads = [], {1.0: [], 0.0: []}, {1.0: 0, 0.0: 0}
    for _round in range(arguments.rounds):
        plain.append(create_searches(agency, user, arguments.searches))
        for pause, rates in modes.items():
            stop, signed = threading.Event(), []
            thread = threading.Thread(target=signer, args=(agency, stop, signed, pause))
            thread.start()
            rates.append(create_searches(agency, user, arguments.searches))
            stop.set()
            thread.join()
            heads[pause] += len(signed)
    with tenant_transaction(agency.pk):
        size = AuditTreeHead.objects.filter(chain=str(agency.code)).order_by("-tree_size").first().tree_size
    baseline = max(plain)
    rows = [["no signing", f"{baseline:.1f}", ", ".join(f"{value:.1f}" for value in plain), "1", "0"]]
    for pause, rates in modes.items():
        rows.append([f"a head every {pause:g} s" if pause else "heads back to back", f"{max(rates):.1f}",
                     ", ".join(f"{value:.1f}" for value in rates), f"{common.ratio(max(rates), baseline)}",
                     str(heads[pause])])
    common.print_table(["mode", "searches/s (best round)", "rounds", "ratio", "heads signed"], rows)
    print(f"log size at the end: {size} events")
    common.save_results("audit_signing", {"searches_per_second": {"plain": plain, **{
        f"pause_{pause:g}s": rates for pause, rates in modes.items()}}, "heads_signed": {
        f"pause_{pause:g}s": count for pause, count in heads.items()}})


if __name__ == "__main__":
    main()
