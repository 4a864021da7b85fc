"""Turning a weighed package into a shipping label job, and a packed order into a slip job.

Numbers (SSCC, tracking) come from counters bumped in the caller's transaction, so a
number is never issued twice, even across a crash; the label job is queued in the same
transaction, so a labelled package always has its job.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import sqlite_utils

from routing import tracking
from station.config import StationConfig
from station.labels.shipping import Address, ShippingLabel, render_zpl
from station.labels.slip import ReturnItem, SlipItem, packing_slip, return_slip
from station.packing.model import OrderView, PackageView
from station.printing import queue
from station.store.outbox import next_counter

# UPS service codes as printed in 1Z numbers.
_UPS_SERVICE = {
    "next day air": "01",
    "2nd day air": "02",
    "ground": "03",
    "3 day select": "12",
    "express saver": "13",
}
# USPS IMpb service type codes (Publication 199, appendix).
_USPS_SERVICE = {"ground advantage": "001", "priority mail": "055", "priority mail express": "701"}


def _number(
    db: sqlite_utils.Database, config: StationConfig, counter: str, scheme: tracking.Scheme
) -> str:
    ids = config.identifiers
    block = tracking.SerialBlock(ids.block * ids.block_size, ids.block_size)
    return tracking.TrackingAllocator(scheme, block).number(next_counter(db, counter, start=0))


def tracking_number(
    db: sqlite_utils.Database, config: StationConfig, carrier: str, service: str, sscc: str
) -> str:
    """A tracking number in the carrier's format. Carriers that track by the SSCC (most
    European parcel networks) get the SSCC itself."""
    ids = config.identifiers
    carrier_l, service_l = carrier.lower(), service.lower()
    if carrier_l.startswith("ups"):
        code = next((c for name, c in _UPS_SERVICE.items() if name in service_l), "03")
        return _number(db, config, "ups", tracking.UpsScheme(ids.ups_shipper, code))
    if carrier_l.startswith("usps"):
        code = next(
            (
                c
                for name, c in sorted(_USPS_SERVICE.items(), key=lambda x: -len(x[0]))
                if name in service_l
            ),
            "001",
        )
        return _number(db, config, "usps", tracking.UspsScheme(code, ids.usps_mailer_id))
    return sscc


def _address(data: dict[str, str]) -> Address:
    return Address(
        name=data.get("name", ""),
        street1=data.get("street1", ""),
        city=data.get("city", ""),
        postal_code=data.get("postal_code", ""),
        country=data.get("country", "US"),
        company=data.get("company", "") or "",
        street2=data.get("street2", "") or "",
        region=data.get("region", "") or "",
        phone=data.get("phone", "") or "",
    )


def issue_label(
    db: sqlite_utils.Database, config: StationConfig, order: OrderView, package: PackageView
) -> int:
    """Give ``package`` its SSCC and tracking number, render its label, queue the job.

    Must run inside the caller's ``db.atomic()``. Returns the print job id.
    """
    ids = config.identifiers
    sscc = _number(
        db, config, "sscc", tracking.SsccScheme(ids.gs1_company_prefix, ids.sscc_extension)
    )
    number = tracking_number(db, config, order.carrier, order.service, sscc)
    shippable = order.shippable_packages
    label = ShippingLabel(
        ship_from=Address(**msgspec.structs.asdict(config.ship_from)),
        ship_to=_address(order.ship_to),
        carrier=order.carrier,
        service=order.service,
        tracking_number=number,
        sscc=sscc,
        order_ref=order.order_ref,
        weight_g=package.weight_g or 0.0,
        package_no=1 + [p.package_id for p in shippable].index(package.package_id),
        package_count=len(shippable),
        ship_date=dt.date.today(),
    )
    db.execute(
        "UPDATE packages SET status = 'labelled', sscc = ?, tracking_number = ? "
        "WHERE package_id = ?",
        [sscc, number, package.package_id],
    )
    return queue.enqueue(
        db, "label", "shipping_label", render_zpl(label), order.order_id, package.package_id
    )


def requeue_label(db: sqlite_utils.Database, package_id: int) -> int:
    """Queue the package's last label again, byte for byte (same numbers)."""
    row = db.execute(
        "SELECT payload, order_id FROM print_jobs WHERE package_id = ? AND kind = "
        "'shipping_label' ORDER BY job_id DESC LIMIT 1",
        [package_id],
    ).fetchone()
    return queue.enqueue(db, "label", "shipping_label", bytes(row[0]), row[1], package_id)


def cancel_jobs(db: sqlite_utils.Database, package_id: int) -> None:
    """Cancel the package's label jobs that have not printed yet (a voided label)."""
    # Any printer: a lead may have moved the label to another station's printer.
    for job in queue.open_jobs(db):
        if job.media == "label" and job.package_id == package_id and job.status != "sending":
            queue.cancel(db, job.job_id)


def queue_slip(db: sqlite_utils.Database, config: StationConfig, order: OrderView) -> int:
    """Queue the packing slip of a packed order on the slip printer."""
    items = [SlipItem(ln.sku, ln.name, ln.qty, ln.scanned) for ln in order.lines]
    shorts = {
        ln.sku: (ln.short_reason or "short").replace("_", " ") for ln in order.lines if ln.short
    }
    doc = packing_slip(
        order.order_ref,
        _address(order.ship_to),
        items,
        shorts,
        packages=len(order.shippable_packages),
        ship_from=Address(**msgspec.structs.asdict(config.ship_from)),
        packed_on=dt.date.today(),
    )
    return queue.enqueue(db, "slip", "packing_slip", msgspec.json.encode(doc), order.order_id)


def queue_return_slip(
    db: sqlite_utils.Database,
    config: StationConfig,
    order_id: str,
    order_ref: str,
    rma: str,
    lines: list[ReturnItem],
    return_url: str,
) -> int:
    """Queue a return slip (RMA ``rma``) on the slip printer; returns the job id.
    Raises ValueError as :func:`return_slip` does, before anything is queued."""
    doc = return_slip(
        order_ref,
        rma,
        lines,
        return_url,
        ship_from=Address(**msgspec.structs.asdict(config.ship_from)),
    )
    return queue.enqueue(db, "slip", "return_slip", msgspec.json.encode(doc), order_id)
