/*
** moments.c — one-pass statistics (see moments.h).
*/
#include "moments.h"

#include <math.h>

void gf_moments_init(gf_moments *m)
{
  m->n = 0;
  m->mean = m->m2 = m->m3 = 0.0;
  m->min = INFINITY;
  m->max = -INFINITY;
}

void gf_moments_add(gf_moments *m, double x)
{
  double n1 = (double)m->n;
  m->n++;
  double n = (double)m->n;
  double delta = x - m->mean;
  double dn = delta / n;
  double term1 = delta * dn * n1;
  m->mean += dn;
  m->m3 += term1 * dn * (n - 2.0) - 3.0 * dn * m->m2;
  m->m2 += term1;
  if (x < m->min) m->min = x;
  if (x > m->max) m->max = x;
}

void gf_moments_put(const gf_moments *m, gf_rv *out)
{
  gf_rv_int(out, "count", m->n);
  if (m->n == 0) return;
  double n = (double)m->n;
  double var = m->m2 / n;
  gf_rv_num(out, "min", m->min);
  gf_rv_num(out, "max", m->max);
  gf_rv_num(out, "mean", m->mean);
  gf_rv_num(out, "stddev", sqrt(var));
  gf_rv_num(out, "skew", var > 0 ? (m->m3 / n) / pow(var, 1.5) : 0.0);
}
