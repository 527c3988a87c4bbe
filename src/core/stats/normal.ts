/**
 * The upper tail of the standard normal distribution, P(Z > z): the p-value of a one-sided
 * z statistic. From the complementary error function by its Chebyshev fit (fractional error
 * under 1.2e-7 everywhere), so a p-value is good to the fourth decimal the tests pin.
 */
export function upperTail(z: number): number {
  if (Number.isNaN(z)) return 1;
  return erfc(z / Math.SQRT2) / 2;
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + z / 2);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
