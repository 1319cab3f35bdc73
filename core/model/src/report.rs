//! Report maths: odometer chain, mileage totals, work-time rounding and sums.
