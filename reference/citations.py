"""The sources the spec cites: the five lecture notes and the original papers.

The lecture notes are in the repository as plain text under ``docs/sources/`` (``Citation.document``);
a citation of a note points at a slide by its title (``Citation.where``), which a reader finds in
that text. The notes of Vitay and the architectures notes carry no date, so their year is ``None``.
"""

from __future__ import annotations

from dataclasses import replace

from trainspec.reference.registry import Citation

# Lecture notes, by author, title and institution; the copy a reader can search is ``document``.
VITAY = Citation(
    "J. Vitay",
    "Neurocomputing: Modern neural networks",
    venue="lecture notes, Professur für Künstliche Intelligenz, Fakultät für Informatik, TU Chemnitz",
    document="docs/sources/vitay-neurocomputing-modern-neural-networks.txt",
)
SOLBERG = Citation(
    "A. Solberg",
    "INF 5860 Machine learning for image classification, Lecture 9: Training neural nets part II",
    year=2017,
    venue="lecture slides, Department of Informatics, University of Oslo",
    document="docs/sources/solberg-2017-inf5860-lecture9-training-neural-nets-part2.txt",
)
ARCHITECTURES = Citation(
    "(unattributed)",
    "Neural network architectures (part one: deep NNs & CNNs)",
    venue="lecture notes",
    document="docs/sources/neural-network-architectures-part1-deep-nns-cnns.txt",
)
ZHENG = Citation(
    "J. Zheng",
    "CS286 AI for Science and Engineering, Lecture 6: Introduction to Artificial Neural Networks",
    year=2020,
    venue="lecture slides, School of Information Science and Technology, ShanghaiTech University",
    document="docs/sources/zheng-2020-cs286-lecture6-artificial-neural-networks.txt",
)
PADILLA_MONTANI = Citation(
    "J. Padilla Montani",
    "Neural Networks Tricks-Of-The-Trade",
    year=2019,
    venue="lecture notebook, Deep Learning with TensorFlow WS18/19, IST Austria",
    document="docs/sources/padilla-montani-2019-neural-networks-tricks-of-the-trade.txt",
)

LECTURE_NOTES = (VITAY, SOLBERG, ARCHITECTURES, ZHENG, PADILLA_MONTANI)

# Original papers.
ROBBINS_MONRO = Citation(
    "H. Robbins, S. Monro",
    "A stochastic approximation method",
    1951,
    "Annals of Mathematical Statistics 22(3)",
)
POLYAK = Citation(
    "B. T. Polyak",
    "Some methods of speeding up the convergence of iteration methods",
    1964,
    "USSR Computational Mathematics and Mathematical Physics 4(5)",
)
NESTEROV = Citation(
    "Y. Nesterov",
    "A method for solving the convex programming problem with convergence rate O(1/k^2)",
    1983,
    "Soviet Mathematics Doklady 27",
)
SUTSKEVER = Citation(
    "I. Sutskever, J. Martens, G. Dahl, G. Hinton",
    "On the importance of initialization and momentum in deep learning",
    2013,
    "ICML",
)
KROGH_HERTZ = Citation(
    "A. Krogh, J. A. Hertz", "A simple weight decay can improve generalization", 1992, "NeurIPS"
)
LOSHCHILOV_HUTTER = Citation(
    "I. Loshchilov, F. Hutter", "Decoupled weight decay regularization", 2019, "ICLR"
)
GOODFELLOW = Citation("I. Goodfellow, Y. Bengio, A. Courville", "Deep Learning", 2016, "MIT Press")


def at(citation: Citation, where: str) -> Citation:
    """The same source, pointing at a place inside it: for a lecture note the title of a slide as
    its text prints it (several separated by "; ", a parenthesis adds what to look for on it),
    for a paper or book a section, algorithm or figure."""
    base = citation.where
    return replace(citation, where=f"{base}, {where}" if base else where)


# Papers of the adaptive optimizers (``trainspec.reference.optimizers``).
DUCHI = Citation(
    "J. Duchi, E. Hazan, Y. Singer",
    "Adaptive subgradient methods for online learning and stochastic optimization",
    2011,
    "Journal of Machine Learning Research 12",
)
TIELEMAN_HINTON = Citation(
    "T. Tieleman, G. Hinton",
    "Lecture 6.5 - RMSProp: Divide the gradient by a running average of its recent magnitude",
    2012,
    "COURSERA: Neural Networks for Machine Learning",
)
KINGMA_BA = Citation(
    "D. P. Kingma, J. Ba", "Adam: A method for stochastic optimization", 2015, "ICLR"
)
DOZAT = Citation("T. Dozat", "Incorporating Nesterov momentum into Adam", 2016, "ICLR workshop")
ZEILER = Citation(
    "M. D. Zeiler", "ADADELTA: An adaptive learning rate method", 2012, "arXiv:1212.5701"
)
REDDI = Citation(
    "S. J. Reddi, S. Kale, S. Kumar", "On the convergence of Adam and beyond", 2018, "ICLR"
)

# Papers of normalisation, dropout, initialisation, activations, clipping and training.
IOFFE_SZEGEDY = Citation(
    "S. Ioffe, C. Szegedy",
    "Batch normalization: Accelerating deep network training by reducing internal covariate shift",
    2015,
    "ICML",
)
SRIVASTAVA = Citation(
    "N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov",
    "Dropout: A simple way to prevent neural networks from overfitting",
    2014,
    "Journal of Machine Learning Research 15",
)
GAL_GHAHRAMANI = Citation(
    "Y. Gal, Z. Ghahramani",
    "Dropout as a Bayesian approximation: Representing model uncertainty in deep learning",
    2016,
    "ICML",
)
GLOROT_BENGIO = Citation(
    "X. Glorot, Y. Bengio",
    "Understanding the difficulty of training deep feedforward neural networks",
    2010,
    "AISTATS",
)
HE = Citation(
    "K. He, X. Zhang, S. Ren, J. Sun",
    "Delving deep into rectifiers: Surpassing human-level performance on ImageNet classification",
    2015,
    "ICCV",
)
LECUN_EFFICIENT_BACKPROP = Citation(
    "Y. LeCun, L. Bottou, G. B. Orr, K.-R. Müller",
    "Efficient backprop",
    1998,
    "Neural Networks: Tricks of the Trade, Springer",
)
NAIR_HINTON = Citation(
    "V. Nair, G. Hinton",
    "Rectified linear units improve restricted Boltzmann machines",
    2010,
    "ICML",
)
MAAS = Citation(
    "A. L. Maas, A. Y. Hannun, A. Y. Ng",
    "Rectifier nonlinearities improve neural network acoustic models",
    2013,
    "ICML workshop",
)
XU_RRELU = Citation(
    "B. Xu, N. Wang, T. Chen, M. Li",
    "Empirical evaluation of rectified activations in convolutional network",
    2015,
    "arXiv:1505.00853",
)
CLEVERT = Citation(
    "D.-A. Clevert, T. Unterthiner, S. Hochreiter",
    "Fast and accurate deep network learning by exponential linear units (ELUs)",
    2016,
    "ICLR",
)
KLAMBAUER = Citation(
    "G. Klambauer, T. Unterthiner, A. Mayr, S. Hochreiter",
    "Self-normalizing neural networks",
    2017,
    "NeurIPS",
)
PASCANU = Citation(
    "R. Pascanu, T. Mikolov, Y. Bengio",
    "On the difficulty of training recurrent neural networks",
    2013,
    "ICML",
)
PRECHELT = Citation(
    "L. Prechelt",
    "Early stopping - but when?",
    1998,
    "Neural Networks: Tricks of the Trade, Springer",
)
RUMELHART = Citation(
    "D. E. Rumelhart, G. E. Hinton, R. J. Williams",
    "Learning representations by back-propagating errors",
    1986,
    "Nature 323",
)
PEARLMUTTER = Citation(
    "B. A. Pearlmutter", "Fast exact multiplication by the Hessian", 1994, "Neural Computation 6(1)"
)
SMITH_CLR = Citation(
    "L. N. Smith",
    "Cyclical learning rates for training neural networks",
    2017,
    "WACV",
)
BERGSTRA_BENGIO = Citation(
    "J. Bergstra, Y. Bengio",
    "Random search for hyper-parameter optimization",
    2012,
    "Journal of Machine Learning Research 13",
)
SREBRO_MAX_NORM = Citation(
    "N. Srebro, A. Shraibman",
    "Rank, trace-norm and max-norm",
    2005,
    "COLT",
)
ROSENBLATT = Citation(
    "F. Rosenblatt",
    "The perceptron: A probabilistic model for information storage and organization in the brain",
    1958,
    "Psychological Review 65(6)",
)
BRIDLE = Citation(
    "J. S. Bridle",
    "Probabilistic interpretation of feedforward classification network outputs, with "
    "relationships to statistical pattern recognition",
    1990,
    "Neurocomputing: Algorithms, Architectures and Applications, Springer",
)
TIBSHIRANI_LASSO = Citation(
    "R. Tibshirani",
    "Regression shrinkage and selection via the lasso",
    1996,
    "Journal of the Royal Statistical Society B 58(1)",
)

# Books that name the schedules the notes use ("power", "exponential", "piecewise constant",
# "performance" scheduling, and Keras's ``decay=``), where no single paper introduced them.
GERON_2017 = Citation(
    "A. Géron",
    "Hands-On Machine Learning with Scikit-Learn and TensorFlow",
    2017,
    "O'Reilly",
    where="ch. 11, Learning Rate Scheduling",
)
GERON_2019 = Citation(
    "A. Géron",
    "Hands-On Machine Learning with Scikit-Learn, Keras, and TensorFlow (2nd ed.)",
    2019,
    "O'Reilly",
    where="ch. 11, Learning Rate Scheduling",
)
