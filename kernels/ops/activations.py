"""Activations: forward ``a = f(z)`` and backward ``d f'(a)``, side by side, in terms of the output.

Each is a class of two static functions of scalars (``slope`` is leaky_relu's negative slope):

- sigmoid:     a = 1 / (1 + e^-z)                     d * a (1 - a)
- tanh:        a = sign(z) (1 - e) / (1 + e), e = e^(-2|z|)      d * (1 - a^2)
               (a = z where |z| < 2^-27: there tanh z rounds to z, while 1 - e loses every
               digit and would give 0)
- relu:        a = max(z, 0)                          d if a > 0 else 0
- leaky_relu:  a = z if z > 0 else slope z            d if a > 0 else slope d
- linear:      a = z                                  d

Fahlman's flat-spot offset (``train.flat_spot``) is added by the kernels around ``backward``:
``backward(d, a) + flat_spot * d`` = ``d (f'(a) + flat_spot)``.
"""
from __future__ import annotations

from kernels.ops.elementary import exp_over, exp_under
from kernels.ops.prim import like, select
from kernels.ops.registry import Registry

ACTIVATIONS = Registry("activation")
#: below it, tanh z = z to the last bit in float64 (z^3/3 < half an ulp of z) and float32
TANH_LINEAR = 2.0 ** -27


@ACTIVATIONS.register("sigmoid", 0)
class Sigmoid:
    @staticmethod
    def forward(z, slope):
        one = like(z, 1.0)
        return one / (one + exp_over(-z))     # exactly 0 where e^-z overflows

    @staticmethod
    def backward(d, a, slope):
        return d * (a * (like(a, 1.0) - a))


@ACTIVATIONS.register("tanh", 1)
class Tanh:
    @staticmethod
    def forward(z, slope):
        one = like(z, 1.0)
        e = exp_under(like(z, -2.0) * abs(z))
        t = (one - e) / (one + e)
        t = select(abs(z) < like(z, TANH_LINEAR), abs(z), t)
        return select(z >= like(z, 0.0), t, -t)

    @staticmethod
    def backward(d, a, slope):
        return d * (like(a, 1.0) - a * a)


@ACTIVATIONS.register("relu", 2)
class Relu:
    @staticmethod
    def forward(z, slope):
        zero = like(z, 0.0)
        return select(z > zero, z, zero)

    @staticmethod
    def backward(d, a, slope):
        zero = like(a, 0.0)
        return select(a > zero, d, zero)


@ACTIVATIONS.register("leaky_relu", 3)
class LeakyRelu:
    @staticmethod
    def forward(z, slope):
        return select(z > like(z, 0.0), z, slope * z)

    @staticmethod
    def backward(d, a, slope):
        return select(a > like(a, 0.0), d, d * slope)


@ACTIVATIONS.register("linear", 4)
class Linear:
    @staticmethod
    def forward(z, slope):
        return z

    @staticmethod
    def backward(d, a, slope):
        return d
