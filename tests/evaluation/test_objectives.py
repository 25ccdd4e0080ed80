import numpy as np
import torch

from sknas.evaluation.objectives import count_flops, measure_latency, pareto_front, scalarized_reward


def test_flops_of_a_linear_stack_match_the_formula():
    net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 3))
    assert count_flops(net, 10) == 2 * (10 * 20 + 20 * 3)


def test_latency_grows_with_width():
    torch.set_num_threads(1)
    small = torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.Linear(16, 2))
    big = torch.nn.Sequential(torch.nn.Linear(32, 2048), torch.nn.Linear(2048, 2048), torch.nn.Linear(2048, 2))
    lat_small, lat_big = measure_latency(small, 32), measure_latency(big, 32)
    assert set(lat_small) == {1, 1024}
    assert lat_big[1024] > 3 * lat_small[1024]


def test_pareto_front_is_the_non_dominated_set():
    points = np.array([[1, 5], [2, 2], [3, 1], [3, 3], [2, 2.5], [1, 5]])
    # (3,3) is dominated by (2,2); (2,2.5) by (2,2); duplicates (1,5) do not dominate each other
    assert pareto_front(points) == [0, 1, 2, 5]


def test_mnas_reward_penalizes_cost_whatever_the_score_sign():
    assert scalarized_reward(0.9, 2.0, 1.0) < 0.9 < scalarized_reward(0.9, 0.5, 1.0)
    assert scalarized_reward(-0.2, 2.0, 1.0) < -0.2 < scalarized_reward(-0.2, 0.5, 1.0)
    assert scalarized_reward(0.9, 1.0, 1.0) == 0.9
