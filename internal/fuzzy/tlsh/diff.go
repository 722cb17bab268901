package tlsh

import "fmt"

// Diff returns the distance between two printed digests, as `tlsh -c A -d
// B` prints it; lenDiff false leaves out the length component, as the
// tool's -xlen flag does. 0 means identical distributions; the distance
// has no fixed upper bound.
func Diff(a, b string, lenDiff bool) (int, error) {
	da, err := Parse(a)
	if err != nil {
		return 0, err
	}
	db, err := Parse(b)
	if err != nil {
		return 0, fmt.Errorf("tlsh: second digest: %w", err)
	}
	return Distance(da, db, lenDiff), nil
}

// Distance returns the distance between two digests (see Diff).
func Distance(a, b Digest, lenDiff bool) int {
	d := 0
	if lenDiff {
		switch l := circular(int(a.LValue), int(b.LValue), 256); l {
		case 0, 1:
			d += l
		default:
			d += 12 * l
		}
	}
	d += ratioDistance(a.Q1Ratio, b.Q1Ratio)
	d += ratioDistance(a.Q2Ratio, b.Q2Ratio)
	if a.Checksum != b.Checksum {
		d++
	}
	return d + BodyDistance(&a.Body, &b.Body)
}

// ratioDistance weighs the circular distance between two quartile ratios:
// a step of one is noise, further steps count twelve each.
func ratioDistance(x, y byte) int {
	q := circular(int(x&0x0f), int(y&0x0f), 16)
	if q <= 1 {
		return q
	}
	return 12 * (q - 1)
}

// circular is the distance between x and y on a ring of size r.
func circular(x, y, r int) int {
	d := x - y
	if d < 0 {
		d = -d
	}
	return min(d, r-d)
}

// byteCost[x][y] is the summed cost of the four bucket codes held in body
// bytes x and y.
var byteCost = func() (t [256][256]uint8) {
	for x := range 256 {
		for y := range 256 {
			c := 0
			for k := 0; k < 8; k += 2 {
				d := (x>>k)&3 - (y>>k)&3
				if d < 0 {
					d = -d
				}
				if d == 3 {
					d = 6 // opposite quartiles weigh double
				}
				c += d
			}
			t[x][y] = uint8(c)
		}
	}
	return t
}()

// BodyDistance is the part of the distance that comes from the bucket
// codes alone: the sum over buckets of how many quartiles apart they are,
// with the first and last quartile counting 6 rather than 3. It is at
// most 6*128 and is a lower bound of Distance, which an index can use to
// prune candidates.
func BodyDistance(a, b *[bodyBytes]byte) int {
	d := 0
	for i := range bodyBytes {
		d += int(byteCost[a[i]][b[i]])
	}
	return d
}
