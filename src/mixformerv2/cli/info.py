"""`mixformerv2 info`: parameters and multiply-accumulates of a model."""
from __future__ import annotations

import json

from ..model.cost import mac_counts, parameter_counts
from ..model.hub import model_name
from .common import add_model_arguments, model_from_args


def register(sub) -> None:
    p = sub.add_parser("info", help="parameters and GMACs (full forward, cached search step, template encoding)")
    add_model_arguments(p)
    p.add_argument("--online-templates", type=int, default=1, help="number of online templates (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.online_templates < 0:
        raise ValueError("--online-templates must be >= 0")
    model = model_from_args(args)
    c = model.config
    params = parameter_counts(model)
    macs = mac_counts(model, args.online_templates)
    tokens = {"template": c.num_template_tokens * (1 + args.online_templates), "search": c.num_search_tokens,
              "prediction": c.num_prediction_tokens}
    if args.json:
        print(json.dumps({"model": model_name(model) or c.to_dict(), "parameters": params, "macs": macs,
                          "tokens": tokens}, indent=2))
        return 0
    print(f"model: {model_name(model) or 'custom'}  ({c.depth} blocks, embed {c.embed_dim}, {c.num_heads} heads, "
          f"MLP {c.mlp_hidden_dim}, template {c.template_size}px, search {c.search_size}px, "
          f"{'bins ' + str(c.num_bins) if c.head == 'tokens' else 'corner head ' + str(c.corner_map_size) + '^2'})")
    if c.patch_embed != "linear":
        print("patch embedding: MobileNetV3 stem of stride 16 (NanoTrack V3's backbone architecture) + 1x1 "
              "projection; not in the published model")
    print(f"tokens: {tokens['template']} template + {tokens['search']} search + {tokens['prediction']} prediction "
          f"= {sum(tokens.values())}")
    print("parameters (sin-cos tables included):")
    for name, n in params.items():
        print(f"  {name:<12} {n:>12,}")
    print("GMACs per frame, batch 1 (attention matrix products included):")
    print(f"  full forward       {macs['full_forward'] / 1e9:7.2f}   (templates re-encoded every frame)")
    print(f"  cached search step {macs['search_step'] / 1e9:7.2f}   (what the tracker runs per frame)")
    print(f"  template encoding  {macs['template_encoding'] / 1e9:7.2f}   (once per template update)")
    return 0
