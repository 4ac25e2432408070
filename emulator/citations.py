"""Campaign-relevant sources an emulated Perplexity answer cites, chosen from the query.

The mix resembles real Sonar results: wire services and national papers, polling
sites, official statistics, the state's election office when a state is named,
and now and then a low-quality blog (so the scorer's source-quality signal has
something to tell apart). Choice is deterministic for a query; dates are recent
relative to today.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

from emulator.answers import keywords

NEWS = (
    ("apnews.com", "AP News"),
    ("reuters.com", "Reuters"),
    ("nytimes.com", "The New York Times"),
    ("washingtonpost.com", "The Washington Post"),
    ("politico.com", "Politico"),
    ("axios.com", "Axios"),
    ("npr.org", "NPR"),
)
POLLING = (
    ("projects.fivethirtyeight.com", "FiveThirtyEight"),
    ("realclearpolling.com", "RealClearPolling"),
    ("emersoncollegepolling.com", "Emerson College Polling"),
    ("pewresearch.org", "Pew Research Center"),
    ("news.gallup.com", "Gallup"),
)
OFFICIAL = (
    ("census.gov", "U.S. Census Bureau"),
    ("fec.gov", "Federal Election Commission"),
    ("bls.gov", "Bureau of Labor Statistics"),
)
LOW_QUALITY = (
    ("patriot-truth-daily.blogspot.com", "Patriot Truth Daily"),
    ("electionbuzz247.net", "ElectionBuzz 24/7"),
    ("medium.com/@hotpoliticaltakes", "Hot Political Takes"),
)
STATE_OFFICES = {
    "arizona": ("azsos.gov", "Arizona Secretary of State"),
    "georgia": ("sos.ga.gov", "Georgia Secretary of State"),
    "michigan": ("michigan.gov/sos", "Michigan Department of State"),
    "nevada": ("nvsos.gov", "Nevada Secretary of State"),
    "north carolina": ("ncsbe.gov", "North Carolina State Board of Elections"),
    "pennsylvania": ("pa.gov/agencies/dos", "Pennsylvania Department of State"),
    "wisconsin": ("elections.wi.gov", "Wisconsin Elections Commission"),
    "ohio": ("ohiosos.gov", "Ohio Secretary of State"),
    "florida": ("dos.fl.gov", "Florida Division of Elections"),
    "texas": ("sos.state.tx.us", "Texas Secretary of State"),
}
LOW_QUALITY_SHARE = 0.3
MAX_AGE_DAYS = 10


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    date: str

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "date": self.date, "last_updated": self.date}


def _host(domain: str) -> str:
    """Bare second-level domains get the `www.` most of these sites use."""
    return f"www.{domain}" if domain.count(".") == 1 and "/" not in domain else domain


def _slug(words: list[str]) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", w).strip("-") for w in words[:4]) or "campaign"


def search_results(query: str, count: int, today: date | None = None) -> list[SearchResult]:
    """`count` distinct sources for `query`, most authoritative first."""
    rng = random.Random(int(hashlib.sha256(query.encode()).hexdigest()[:16], 16))
    lower = query.lower()
    pool: list[tuple[str, str]] = [
        office for state, office in STATE_OFFICES.items() if state in lower
    ]
    pool += rng.sample(POLLING, 2) + rng.sample(NEWS, 4) + rng.sample(OFFICIAL, 1)
    pool += rng.sample(NEWS, len(NEWS))
    if rng.random() < LOW_QUALITY_SHARE:
        pool.insert(min(count - 1, rng.randint(2, 5)), rng.choice(LOW_QUALITY))
    unique = list(dict.fromkeys(pool))[:count]

    words = keywords(query)
    slug = _slug(words)
    topic = " ".join(words[:4]).title()
    today = today or date.today()
    results = []
    for index, (domain, outlet) in enumerate(unique):
        published = today - timedelta(days=rng.randint(0, MAX_AGE_DAYS))
        results.append(
            SearchResult(
                title=f"{topic}: {outlet} update" if index % 2 else f"{outlet} - {topic}",
                url=f"https://{_host(domain)}/{published:%Y/%m}/{slug}",
                date=published.isoformat(),
            )
        )
    return results
