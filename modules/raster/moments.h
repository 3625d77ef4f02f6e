/*
** moments.h — running min, max, mean, standard deviation and skewness in one pass
** (Terriberry's update of the central moments; numerically stable).
**
** stddev is the population standard deviation sqrt(m2) and skew the Fisher-Pearson coefficient
** m3 / m2^1.5 (biased, as numpy/scipy and gippy compute it); a constant sample has skew 0.
*/
#ifndef GF_MOMENTS_H
#define GF_MOMENTS_H

#include "rtree.h"

typedef struct {
  long long n;
  double mean, m2, m3, min, max;
} gf_moments;

void gf_moments_init(gf_moments *m);
void gf_moments_add(gf_moments *m, double x);
/* Adds min, max, mean, stddev, skew (omitted when count is 0) and count to map `out`. */
void gf_moments_put(const gf_moments *m, gf_rv *out);

#endif
