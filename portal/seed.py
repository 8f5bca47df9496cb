"""The development seed beyond people: plans, active licences and the demo gallery."""
from django.conf import settings

from accounts.models import Agency
from billing.models import Licence, Plan
from core.tenancy import tenant_transaction
from search.demo import load_demo_gallery

PLANS = [
    # name, Stripe price id, seats, monthly searches, overage allowed
    ("Starter", "price_local_starter", 5, 100, False),
    ("Standard", "price_local_standard", 25, 1000, True),
    ("Enterprise", "price_local_enterprise", 200, 10000, True),
]
DEMO_PHOTOS = settings.BASE_DIR.parent / "shared" / "faces"
DEMO_PHOTOS_SOURCE = "face_recognition project test images (MIT licence), shared/faces"


def seed_plans() -> list[Plan]:
    return [
        Plan.objects.get_or_create(stripe_price_id=price, defaults={
            "name": name, "seats": seats, "monthly_searches": searches, "overage_allowed": overage,
        })[0]
        for name, price, seats, searches, overage in PLANS
    ]


def seed_billing(agencies: list[Agency], stdout) -> None:
    standard = seed_plans()[1]
    for agency in agencies:
        with tenant_transaction(agency.pk):
            Licence.objects.get_or_create(agency=agency, defaults={"plan": standard, "status": Licence.Status.ACTIVE})
    if DEMO_PHOTOS.is_dir():
        outcomes = load_demo_gallery(DEMO_PHOTOS, DEMO_PHOTOS_SOURCE)
        loaded = sum(1 for _name, outcome in outcomes if outcome != "already loaded")
        stdout.write(f"Demo gallery: {len(outcomes)} photos in {DEMO_PHOTOS} ({loaded} newly loaded)")
