"""The domain settings of the billing service, from environment variables: Namecheap
(``NAMECHEAP_*``), Vercel (``VERCEL_*``), pricing (``KWQ8_DOMAIN_USD_KWD_RATE``,
``KWQ8_DOMAIN_MARGIN``) and the service's own run of the domain jobs
(``KWQ8_DOMAIN_JOBS_INTERVAL_S``, 60; 0 leaves them to ``kwq8 jobs domains``). Each part is
optional: without it the routes that need it answer DOM_013 (503) and the rest of the service
keeps working. Messages name variables, never values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kwq8.domains import namecheap, vercel


@dataclass(frozen=True, repr=False)
class DomainSettings:
    namecheap: namecheap.NamecheapConfig | None = None
    vercel: vercel.VercelConfig | None = None
    usd_kwd_rate: Decimal | None = None
    margin: Decimal | None = None
    # Seconds between two runs of the domain jobs inside `kwq8 serve`; 0: none.
    jobs_interval_s: float = 0.0
    # Why a part is missing (variable names only), for the operator's log.
    problems: tuple[str, ...] = ()

    @property
    def can_sell(self) -> bool:
        """Search, checkout and renewal: Namecheap and the pricing."""
        return self.namecheap is not None and self.usd_kwd_rate is not None and self.margin is not None

    @property
    def can_connect(self) -> bool:
        return self.vercel is not None

    def __repr__(self) -> str:
        return (
            f"DomainSettings(namecheap={'set' if self.namecheap else 'unset'}, "
            f"vercel={'set' if self.vercel else 'unset'}, pricing={'set' if self.margin else 'unset'})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DomainSettings:
        env = os.environ if environ is None else environ
        problems: list[str] = []
        nc: namecheap.NamecheapConfig | None = None
        vc: vercel.VercelConfig | None = None
        try:
            nc = namecheap.NamecheapConfig.from_env(env)
        except namecheap.ConfigError as exc:
            problems.append(f"Namecheap: {exc}")
        try:
            vc = vercel.VercelConfig.from_env(env)
        except vercel.ConfigError as exc:
            problems.append(f"Vercel: {exc}")
        rate = _decimal(env, "KWQ8_DOMAIN_USD_KWD_RATE", minimum=Decimal("0"), problems=problems)
        margin = _decimal(env, "KWQ8_DOMAIN_MARGIN", minimum=Decimal("1"), problems=problems)
        interval = 60.0
        raw = env.get("KWQ8_DOMAIN_JOBS_INTERVAL_S", "").strip()
        if raw:
            try:
                interval = float(raw)
            except ValueError:
                interval = -1.0
            if not (interval == 0 or 1 <= interval <= 3600):
                problems.append("KWQ8_DOMAIN_JOBS_INTERVAL_S must be 0 or 1 to 3600 seconds")
                interval = 60.0
        return cls(
            namecheap=nc,
            vercel=vc,
            usd_kwd_rate=rate,
            margin=margin,
            jobs_interval_s=interval,
            problems=tuple(problems),
        )


def _decimal(env: Mapping[str, str], name: str, *, minimum: Decimal, problems: list[str]) -> Decimal | None:
    value = env.get(name, "").strip()
    if not value:
        problems.append(f"missing environment variable {name}")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("-1")
    # A rate of zero sells for nothing; a margin under 1 sells at a loss.
    if not number.is_finite() or number < minimum or number == 0 or number > 1000:
        problems.append(f"{name} must be a number above {minimum} (and at most 1000)")
        return None
    return number
