"""How much to trust a cited source, by its domain.

A coarse first version: official and wire/major-outlet domains rank high,
known pollsters and analysts next, user-generated platforms low.
"""

from __future__ import annotations

from urllib.parse import urlparse

OFFICIAL_SUFFIXES = (".gov", ".mil", ".edu", ".gov.uk", ".europa.eu")
HIGH_QUALITY = {
    "apnews.com",
    "reuters.com",
    "nytimes.com",
    "washingtonpost.com",
    "wsj.com",
    "bbc.co.uk",
    "bbc.com",
    "npr.org",
    "pewresearch.org",
    "census.gov",
    "fec.gov",
    "ballotpedia.org",
    "cookpolitical.com",
    "centerforpolitics.org",
    "270towin.com",
    "politico.com",
}
POLLSTERS_AND_ANALYSTS = {
    "fivethirtyeight.com",
    "realclearpolling.com",
    "realclearpolitics.com",
    "emersoncollegepolling.com",
    "monmouth.edu",
    "quinnipiac.edu",
    "gallup.com",
    "ipsos.com",
    "yougov.com",
    "morningconsult.com",
    "silverbulletin.com",
    "decisiondeskhq.com",
    "axios.com",
    "thehill.com",
    "cnn.com",
    "foxnews.com",
    "nbcnews.com",
    "cbsnews.com",
    "abcnews.go.com",
    "azcentral.com",
    "azmirror.com",
}
USER_GENERATED = {
    "reddit.com",
    "twitter.com",
    "x.com",
    "facebook.com",
    "tiktok.com",
    "youtube.com",
    "medium.com",
    "substack.com",
    "quora.com",
    "wordpress.com",
    "blogspot.com",
}

OFFICIAL_SCORE = 0.95
HIGH_SCORE = 0.9
ANALYST_SCORE = 0.75
UNKNOWN_SCORE = 0.5
USER_GENERATED_SCORE = 0.25


def domain_of(url: str) -> str:
    host = (urlparse(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _matches(host: str, domains: set[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def source_score(url: str) -> float:
    """Trust in one source, 0..1."""
    host = domain_of(url)
    if not host:
        return 0.0
    if host.endswith(OFFICIAL_SUFFIXES):
        return OFFICIAL_SCORE
    if _matches(host, HIGH_QUALITY):
        return HIGH_SCORE
    if _matches(host, POLLSTERS_AND_ANALYSTS):
        return ANALYST_SCORE
    if _matches(host, USER_GENERATED):
        return USER_GENERATED_SCORE
    return UNKNOWN_SCORE
