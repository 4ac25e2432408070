"""`python -m services.classifier.train`: fit the tier router and write its artifact.

The cascade threshold (when the TF-IDF-only heads decide alone) and the local-model
guard (how large P(complex) may be against P(simple) for the local model) are chosen on
5-fold cross-validated probabilities of the fitting data (cascade.py); then every head
is fitted on all of it (fitting.py).

Deterministic: the same data, seed and options give a byte-identical artifact (sorted
vocabularies, lbfgs, weights written to fixed precision, no timestamps). scikit-learn is
needed here only; the classifier reads the artifact with numpy. `--compare` instead
fits every candidate on train and scores it on dev (candidates.py): the table in
docs/routing.md.
The test split is never read by this command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from schemas.parts import TIERS
from services.classifier.candidates import compare
from services.classifier.cascade import FOLDS, choose_thresholds, cross_validated_probabilities
from services.classifier.dataset import DATA_DIR, Example, load_split
from services.classifier.embedder import Embedder
from services.classifier.evaluate import render
from services.classifier.fitting import EMBEDDING_TOKENS, fit_model
from services.classifier.tier_model import DEFAULT_ARTIFACT

FIT_CHOICES = {"train": ("train",), "train+dev": ("train", "dev")}


def progress_to_stderr(label: str, done: int, total: int) -> None:
    """A one-line progress bar on a terminal, a line per quarter otherwise."""
    if sys.stderr.isatty():
        bar = "#" * (20 * done // max(total, 1))
        end = "\n" if done == total else ""
        print(f"\r[train] {label:<28} [{bar:<20}] {done}/{total}", end=end, file=sys.stderr)
    elif done == total or done % max(total // 4, 1) == 0:
        print(f"[train] {label}: {done}/{total}", file=sys.stderr)


def subset(examples: Sequence[Example], limit: int | None, seed: int) -> list[Example]:
    """`limit` examples spread evenly over the tiers, chosen by `seed` (all when None)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    rng = np.random.default_rng(seed)
    chosen: list[Example] = []
    for tier in TIERS:
        of_tier = [e for e in examples if e.tier == tier]
        picks = rng.permutation(len(of_tier))[: -(-limit // len(TIERS))]
        chosen += [of_tier[i] for i in sorted(picks)]
    return chosen


def data_digest(data_dir: Path, splits: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for split in splits:
        digest.update((data_dir / f"{split}.jsonl").read_bytes())
    return digest.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.classifier.train",
        description="Fit the tier router on the labelled workload and write its artifact "
        "(or, with --compare, score the candidate routers on dev). Never reads test.",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fit-on", choices=sorted(FIT_CHOICES), default="train+dev",
        help="splits to fit the shipped model on (the choice was made on dev first)",
    )
    parser.add_argument("--limit", type=int, default=None, help="fit on a seeded subset")
    parser.add_argument("--compare", action="store_true", help="fit on train, score on dev")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)

    if args.compare:
        scores = compare(
            load_split("train", args.data_dir), load_split("dev", args.data_dir),
            seed=args.seed, progress=progress_to_stderr,
        )
        if args.format == "json":
            print(json.dumps([asdict(s) for s in scores], indent=2))
        else:
            print(render(scores))
        return 0

    splits = FIT_CHOICES[args.fit_on]
    examples = subset(
        [e for split in splits for e in load_split(split, args.data_dir)], args.limit, args.seed
    )
    embedder = Embedder(max_tokens=EMBEDDING_TOKENS)
    fast, full = cross_validated_probabilities(
        examples, seed=args.seed, embedder=embedder, progress=progress_to_stderr
    )
    chosen = choose_thresholds(fast, full, np.asarray([TIERS.index(e.tier) for e in examples]))
    model = fit_model(
        examples,
        seed=args.seed,
        embedder=embedder,
        progress=progress_to_stderr,
        training={
            "splits": list(splits),
            "data_sha256": data_digest(args.data_dir, splits),
            "cross_validation": {"folds": FOLDS, **chosen},
        },
        fast_threshold=chosen["fast_threshold"],
        local_guard_ratio=chosen["local_guard_ratio"],
    )
    digest = model.write(args.output)
    summary = {
        "artifact": str(args.output),
        "version": model.version,
        "sha256": digest,
        "bytes": args.output.stat().st_size,
        "examples": len(examples),
        "features": model.dimensions,
        **{f"cross_validation.{key}": value for key, value in chosen.items()},
    }
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print("\n".join(f"{key}: {value}" for key, value in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
