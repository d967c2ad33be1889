# Lambert W0 on [-1/e, 0) for the alpha-kernel threshold crossing.  See _lambertw.pyx.
# The argument is passed as ell = log(-z) (docs/math.md A.3): the caller tests for a
# crossing in the log domain, where nothing overflows, and 1 + W is returned
# directly because every spike-time derivative divides by it (docs/math.md A.5).

cdef extern from "math.h" nogil:
    double exp(double x)
    double log(double x)
    double sqrt(double x)
    double expm1(double x)
    double fabs(double x)
    double INFINITY

cdef inline double lambertw0_q(double ell, double* w_out) noexcept nogil:
    """Return q = 1 + W0(z) for z = -exp(ell), ell <= -1; store W0(z) in w_out."""
    cdef double d = -expm1(ell + 1.0)     # 1 + e z, accurate near the branch point
    cdef double p, q, w, z, ew, f
    cdef int i
    if d <= 0.0:
        w_out[0] = -1.0
        return 0.0
    p = sqrt(2.0 * d)
    if p < 0.3:
        # Series in p around the branch point (Corless et al. 1996); truncation < 3e-18.
        q = p * (1.0 + p * (-0.3333333333333333 + p * (0.1527777777777778
            + p * (-0.07962962962962962 + p * (0.04450231481481483
            + p * (-0.025984714873603758 + p * (0.015635632532333927
            + p * (-0.009616892024299429 + p * (0.0060145432529561185
            + p * (-0.003811298034892 + p * (0.002440877991143983
            + p * (-0.001576930344686784 + p * (0.0010262633205076076
            + p * (-0.0006720616311561363 + p * (0.000442473061814621
            + p * (-0.00029267722472962746 + p * (0.00019438727605453925
            + p * (-0.00012957426685274886 + p * (8.665035805208126e-05
            + p * (-5.8113607504413824e-05 + p * (3.9076684867439016e-05
            + p * (-2.6338064747231093e-05 + p * 1.7790345805079576e-05))))))))))))))))))))))
        w_out[0] = q - 1.0
        return q
    z = -exp(ell)
    if z < -0.25:
        w = -1.0 + p * (1.0 + p * (-0.3333333333333333 + p * 0.1527777777777778))
    else:
        w = z * (1.0 - z + 1.5 * z * z)
    # Three Halley steps from these starts reach full double precision (docs/math.md A.6).
    for i in range(3):
        ew = exp(w)
        f = w * ew - z
        w = w - f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0))
    w_out[0] = w
    return 1.0 + w
