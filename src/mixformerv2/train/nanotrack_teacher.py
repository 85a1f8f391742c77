"""NanoTrack as a teacher: its backbone features and its dense classification / box-regression maps on the
student's own crops, run by ONNX Runtime (no PyTorch definition of NanoTrack needed).

NanoTrack crops as SiamFC does: a template of side sqrt((w + p)(h + p)), p = (w + h) / 2 (about 2 sqrt(wh) for
a square target), resized to 127 px, and a search region 255/127 times larger, resized to 255 px (about
4 sqrt(wh)). The student's crops (template factor 2, search factor 4 to 5 around the same centre) are close to
that, so they are simply resized to 127 and 255 px (bilinear), turned to BGR and fed as 0-255 floats, as
NanoTrack's own tracker feeds them.

Two things are taken from it (``loss.nanotrack_kl``, ``loss.nanotrack_feature``; see configs/README.md):
- **side distributions** (dense-to-sparse, the analogue of the corner-map marginals of MixFormerV2's teacher):
  every cell of NanoTrack's score grid predicts a box (its left/top/right/bottom distances from the cell);
  each side's distribution over the student's bins is the mixture of those predictions, each a Gaussian of one
  bin's width, weighted by the cell's foreground probability raised to ``sharpness``;
- **backbone features**: the template and search feature maps, average-pooled to the student's token grids,
  whose token-to-token cosine similarities the student's tokens learn to reproduce (no adapter to train).

The ONNX graphs ship with a fixed batch of 1 and fixed sizes; the backbone is made batch- and size-agnostic
here (symbolic input dimensions; its squeeze-and-excitation reshapes take -1 for the batch), and checked once
against the original graph. The head runs one sample at a time (its depthwise correlation is built for one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

TEMPLATE_INPUT = 127
SEARCH_INPUT = 255
STRIDE = 16
SIDES = ("l", "t", "r", "b")


class NanoTrackTeacherError(ValueError):
    """NanoTrack's files are missing, corrupt or not a NanoTrack backbone and head (the message names the file)."""


def _flexible_backbone(path: Path) -> bytes:
    """The backbone graph with symbolic batch/height/width and batch-agnostic reshapes."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for corrupt files
        raise NanoTrackTeacherError(f"{path} is not a readable ONNX graph: {type(exc).__name__}") from None
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise NanoTrackTeacherError(f"{path} is not a NanoTrack backbone (one input image, one feature map expected)")
    dims = graph.input[0].type.tensor_type.shape.dim
    for index, name in ((0, "batch"), (2, "height"), (3, "width")):
        dims[index].dim_param = name
    for j, dim in enumerate(graph.output[0].type.tensor_type.shape.dim):
        dim.dim_param = f"out_{j}"
    del graph.value_info[:]
    initializers = {i.name: i for i in graph.initializer}
    constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        source = node.input[1]
        if source in initializers:
            shape = numpy_helper.to_array(initializers[source]).copy()
            if len(shape) and shape[0] == 1 and -1 not in shape:
                shape[0] = -1
                initializers[source].CopyFrom(numpy_helper.from_array(shape, source))
        elif source in constants:
            tensor = constants[source].attribute[0].t
            shape = numpy_helper.to_array(tensor).copy()
            if len(shape) and shape[0] == 1 and -1 not in shape:
                shape[0] = -1
                tensor.CopyFrom(numpy_helper.from_array(shape))
    return model.SerializeToString()


class NanoTrackTeacher:
    """NanoTrack V2 or V3 (the folder holding ``backbone.onnx`` and ``head.onnx``) on batches of student crops.

    ``features(images, size)``: uint8 RGB (B, 3, H, W) tensors -> backbone feature maps (B, C, g, g) float32.
    ``side_distributions(templates, search, num_bins)``: each side's distribution over ``num_bins`` bins at
    i / num_bins of the search crop (B, num_bins), from NanoTrack's score and box maps.
    """

    def __init__(self, folder: Union[str, Path], threads: int = 1, sharpness: float = 4.0):
        import onnxruntime as ort

        self.folder = Path(folder).expanduser()
        backbone, head = self.folder / "backbone.onnx", self.folder / "head.onnx"
        for path, what in ((backbone, "backbone"), (head, "head")):
            if not path.is_file():
                raise NanoTrackTeacherError(f"NanoTrack {what} {path} does not exist (teacher.nanotrack names "
                                            f"{self.folder}: a folder with backbone.onnx and head.onnx)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.backbone = ort.InferenceSession(_flexible_backbone(backbone), options,
                                                 providers=["CPUExecutionProvider"])
            self.head = ort.InferenceSession(str(head), options, providers=["CPUExecutionProvider"])
        except NanoTrackTeacherError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
            raise NanoTrackTeacherError(f"cannot load NanoTrack from {self.folder}: {str(exc).splitlines()[0]}") from None
        head_inputs = self.head.get_inputs()
        head_outputs = self.head.get_outputs()
        if len(head_inputs) != 2 or len(head_outputs) != 2:
            raise NanoTrackTeacherError(f"{head} is not a NanoTrack head (template and search features in, score "
                                        f"and box maps out)")
        self.head_inputs = [i.name for i in head_inputs]
        self.channels = int(head_inputs[0].shape[1])
        self.grid = int(head_outputs[0].shape[-1])
        self.sharpness = float(sharpness)
        self._check(backbone)
        # Offsets of the score-grid cells from the search crop's centre, in 255-pixel crop units (pysot).
        origin = -(self.grid // 2) * STRIDE
        self.points = torch.tensor([origin + STRIDE * i for i in range(self.grid)], dtype=torch.float32)

    def _check(self, backbone: Path) -> None:
        """The flexible backbone gives the original graph's features, and their channels fit the head."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        original = ort.InferenceSession(str(backbone), options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).uniform(0, 255, (1, 3, SEARCH_INPUT, SEARCH_INPUT)).astype(np.float32)
        name = self.backbone.get_inputs()[0].name
        ours = self.backbone.run(None, {name: np.repeat(x, 2, axis=0)})[0]
        reference = original.run(None, {original.get_inputs()[0].name: x})[0]
        if ours.shape[1] != self.channels:
            raise NanoTrackTeacherError(f"{backbone} gives {ours.shape[1]} channels, the head in {self.folder} "
                                        f"takes {self.channels}: backbone and head of different NanoTrack versions")
        if not np.allclose(ours[1:], reference, rtol=1e-4, atol=1e-3 * max(1.0, float(np.abs(reference).max()))):
            raise NanoTrackTeacherError(f"{backbone}: the batch-agnostic graph does not reproduce the original")

    @torch.no_grad()
    def features(self, images: torch.Tensor, size: int) -> torch.Tensor:
        """Backbone features of uint8 RGB crops (B, 3, H, W) resized to ``size`` (127 or 255): (B, C, g, g)."""
        x = images.float()
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = x.flip(1).contiguous()                       # RGB -> BGR, 0-255 floats as NanoTrack's tracker feeds
        name = self.backbone.get_inputs()[0].name
        out = self.backbone.run(None, {name: x.cpu().numpy()})[0]
        return torch.from_numpy(out).to(images.device)

    @torch.no_grad()
    def crop_features(self, templates: torch.Tensor, search: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Backbone features of uint8 RGB template (B, 3, T, T) and search (B, 3, S, S) crops at NanoTrack's
        input sizes: ((B, C, 8, 8), (B, C, 16, 16)). Compute them once per batch and pass them to
        ``side_distributions`` when the features are used too."""
        return self.features(templates, TEMPLATE_INPUT), self.features(search, SEARCH_INPUT)

    @torch.no_grad()
    def dense_maps(self, template_features: torch.Tensor, search_features: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(foreground probability (B, g, g), box corners (B, 4, g, g) as x1, y1, x2, y2 normalized to the search
        crop) from the backbone features of ``crop_features``."""
        device = search_features.device
        zf, xf = template_features.cpu().numpy(), search_features.cpu().numpy()
        cls, loc = [], []
        for z, x in zip(zf, xf):
            c, l = self.head.run(None, {self.head_inputs[0]: z[None], self.head_inputs[1]: x[None]})
            cls.append(c[0])
            loc.append(l[0])
        cls_t = torch.from_numpy(np.stack(cls))
        loc_t = torch.from_numpy(np.stack(loc))
        fg = cls_t.softmax(dim=1)[:, 1]
        px = self.points.view(1, 1, -1)                  # x offset of column j
        py = self.points.view(1, -1, 1)                  # y offset of row i
        corners = torch.stack([px - loc_t[:, 0], py - loc_t[:, 1], px + loc_t[:, 2], py + loc_t[:, 3]], dim=1)
        corners = (corners + SEARCH_INPUT / 2.0) / SEARCH_INPUT
        return fg.to(device), corners.to(device)

    @torch.no_grad()
    def side_distributions(self, templates: torch.Tensor, search: torch.Tensor, num_bins: int,
                           features: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
        """Each side's distribution (B, num_bins) over bins at i / num_bins: the cells' predicted sides, each a
        Gaussian one bin wide, weighted by foreground probability ** sharpness. ``features``: the crops'
        ``crop_features`` when already computed (else they are computed here)."""
        fg, corners = self.dense_maps(*(features if features is not None else self.crop_features(templates, search)))
        b = fg.shape[0]
        weights = fg.reshape(b, -1).clamp_min(1e-6) ** self.sharpness
        weights = weights / weights.sum(dim=1, keepdim=True)
        positions = torch.arange(num_bins, dtype=torch.float32, device=fg.device) / num_bins
        sigma = 1.0 / num_bins
        out = {}
        for k, side in enumerate(SIDES):
            values = corners[:, k].reshape(b, -1, 1)                         # (B, cells, 1)
            kernel = torch.exp(-0.5 * ((positions.view(1, 1, -1) - values) / sigma) ** 2)
            kernel = kernel / kernel.sum(dim=2, keepdim=True).clamp_min(1e-12)
            out[side] = (weights.unsqueeze(2) * kernel).sum(dim=1)
        return out


def token_similarity_loss(student_tokens: torch.Tensor, teacher_maps: torch.Tensor) -> torch.Tensor:
    """MSE between the cosine-similarity matrices of the student's tokens (B, N, E) and the teacher's feature
    vectors (B, N, C) of the same N image places: the student learns which places look alike to the teacher."""
    s = F.normalize(student_tokens.float(), dim=-1)
    t = F.normalize(teacher_maps.float(), dim=-1)
    return F.mse_loss(s @ s.transpose(1, 2), t @ t.transpose(1, 2))


def pooled_tokens(feature_map: torch.Tensor, grid: int) -> torch.Tensor:
    """A feature map (B, C, g, g) average-pooled to ``grid`` x ``grid`` and laid out as tokens (B, grid², C),
    row-major like the student's patch tokens."""
    pooled = F.adaptive_avg_pool2d(feature_map, grid) if feature_map.shape[-1] != grid else feature_map
    return pooled.flatten(2).transpose(1, 2)


__all__ = ["NanoTrackTeacher", "NanoTrackTeacherError", "pooled_tokens", "token_similarity_loss"]
