"""
Draw a network
==============

:func:`sknas.plotting.plot_genotype` draws the network a genotype describes: blocks as
boxes, DenseNet-style skips (MLP space) or residual additions (ResNet space) as arcs.
"""

import matplotlib.pyplot as plt
import numpy as np

from sknas.plotting import plot_genotype
from sknas.space.mlp import MLPSpace, ResNetSpace

rng = np.random.default_rng(3)
mlp = MLPSpace(max_blocks=5)
genotype = mlp.sample(rng)
print(genotype)
plot_genotype(genotype, space=mlp)
plt.show()

# %%
# The residual MLP of Gorishniy et al. (2021).
resnet = ResNetSpace(max_blocks=4)
plot_genotype(resnet.sample(rng), space=resnet)
plt.show()
