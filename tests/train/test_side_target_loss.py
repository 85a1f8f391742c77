"""The ground-truth side-distribution loss (an addition to the published recipe)."""
import torch
def test_side_target_distribution_has_the_coordinate_as_its_expectation():
    from mixformerv2.train.losses import side_target_distribution

    coords = torch.tensor([0.0, 0.1, 0.37, 0.5, 0.93, 1.0])
    target = side_target_distribution(coords, 10)
    assert torch.allclose(target.sum(-1), torch.ones(6))
    expectation = (target * torch.arange(10) / 10).sum(-1)
    assert torch.allclose(expectation, coords.clamp(max=0.9), atol=1e-6)
    assert (target > 0).sum(-1).max() <= 2  # at most the two nearest bins


def test_side_target_loss_is_lowest_at_the_ground_truth():
    from mixformerv2.train.losses import side_target_loss

    gt = torch.tensor([[0.2, 0.3, 0.6, 0.7]])
    sharp = {s: torch.full((1, 10), -20.0) for s in "ltrb"}
    for s, c in zip("ltrb", [2, 3, 6, 7]):
        sharp[s][0, c] = 20.0
    wrong = {s: torch.roll(v, 3, dims=-1) for s, v in sharp.items()}
    assert side_target_loss(sharp, gt) < 1e-6 < side_target_loss(wrong, gt)
