"""`mixformerv2 prune IN OUT --remove 0,3,6,9 [--mlp-ratio R]`: drop blocks (renumbering the rest)."""
from __future__ import annotations

from ..model.surgery import write_pruned_checkpoint


def _int_list(text: str):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--remove must be comma-separated block indices, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser("prune", help="drop eliminated blocks from a checkpoint and renumber the rest")
    p.add_argument("checkpoint", help="input checkpoint (ours or official)")
    p.add_argument("output", help="output checkpoint (.pth or .safetensors)")
    p.add_argument("--remove", default="", help="comma-separated 0-based block indices to drop, e.g. 0,3,6,9")
    p.add_argument("--mlp-ratio", type=float, default=None,
                   help="also shrink every MLP to this ratio, keeping the hidden units of largest weight norm")
    p.set_defaults(func=run)


def run(args) -> int:
    blocks = _int_list(args.remove)
    if not blocks and args.mlp_ratio is None:
        raise ValueError("nothing to do: give --remove and/or --mlp-ratio")
    model = write_pruned_checkpoint(args.checkpoint, args.output, blocks, args.mlp_ratio)
    c = model.config
    print(f"wrote {args.output}: {c.depth} blocks, MLP ratio {c.mlp_ratio:g}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    return 0
