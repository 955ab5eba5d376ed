# A Perl workload for bench/run.sh: hashes of strings and arrays, string building,
# splitting and sorting (Debian's perl allocates with the system malloc).
use strict;
use warnings;

my $scale = @ARGV ? $ARGV[0] : 1.0;
my $rounds = int(2 * $scale); $rounds = 1 if $rounds < 1;
my $n = 60000;
my $check = 0;
my $expect = 0;
for my $r (1 .. $rounds) {
    my %h;
    for my $i (0 .. $n - 1) {
        my $k = "key-$r-" . ($i * 7919 % $n);
        $h{$k} = [ $i, $i * $i, "x" x ($i % 40) ];
    }
    my @keys = sort { length($h{$a}[2]) <=> length($h{$b}[2]) || $a cmp $b } keys %h;
    my $text = join(",", map { "$_=$h{$_}[1]" } @keys);
    my @parts = split /,/, $text;
    my %back = map { split /=/, $_, 2 } @parts;
    $check += scalar(@parts) + scalar(keys %back);
    $expect += 2 * $n;
}
if ($check != $expect) { print STDERR "perl: check failed: $check != $expect\n"; exit 99; }
print "perl: ok rounds=$rounds\n";
