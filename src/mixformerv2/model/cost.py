"""Parameter and multiply-accumulate accounting for the full forward, the cached search step and the
template encoding. MACs are counted from the operations actually executed (torch's FlopCounterMode, with
the CPU attention kernel registered), attention matrix products included."""
from __future__ import annotations

from typing import Dict

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .mixformer import MixFormerV2

_CPU_SDPA = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    # FlopCounterMode hands custom formulas the shapes of the tensor arguments.
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _count_macs(fn) -> int:
    mapping = {_CPU_SDPA: _cpu_sdpa_flops, _CPU_SDPA.default: _cpu_sdpa_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops() // 2


def parameter_counts(model: MixFormerV2) -> Dict[str, int]:
    """Parameters (frozen sin-cos tables included) in total and per part."""
    counts = {"total": sum(p.numel() for p in model.parameters())}
    for name, module in model.named_children():
        counts[name] = sum(p.numel() for p in module.parameters())
    return counts


@torch.no_grad()
def mac_counts(model: MixFormerV2, num_online_templates: int = 1) -> Dict[str, int]:
    """MACs for one sample: full forward, template encoding, cached search step."""
    c = model.config
    was_training = model.training
    model.eval()
    template = torch.zeros(1, 3, c.template_size, c.template_size)
    online = [template] * num_online_templates
    search = torch.zeros(1, 3, c.search_size, c.search_size)
    cache = model.encode_templates(template, online)
    counts = {
        "full_forward": _count_macs(lambda: model(template, online, search)),
        "template_encoding": _count_macs(lambda: model.encode_templates(template, online)),
        "search_step": _count_macs(lambda: model.forward_search(search, cache)),
    }
    model.train(was_training)
    return counts
