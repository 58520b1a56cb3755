/* backprop.c: a plain C backprop that speaks the gradcheck protocol (docs/PROTOCOL.md).
 *
 * It reads requests on stdin until end of file and answers each with dJ/dW^L
 * and dJ/db^L in the flat order (W^L row-major, then b^L, for L = 0 .. H),
 * followed by a line END; so the same program serves one process per case and
 * `--persistent`.  No JSON, no library beyond libc and libm.
 *
 * The tests compile it with -DFAULT=... to get a program that misbehaves in
 * one known way (see the FAULT_* values below), and with -DSLIP_BIAS_SUM to
 * get the classic slip: the bias gradient summed over the batch, not averaged.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAULT_CRASH 1   /* a message on stderr, then SIGSEGV */
#define FAULT_GARBAGE 2 /* words instead of numbers */
#define FAULT_SHORT 3   /* one number too few */
#define FAULT_HANG 4    /* never answers */
#define FAULT_NAN 5     /* "nan" for dJ/db^0[0] */
#define FAULT_EXIT 6    /* a right answer, then exit status 3 */
#ifndef FAULT
#define FAULT 0
#endif

#define MAX_LAYERS 32

static int layers;              /* H + 1 */
static int sizes[MAX_LAYERS + 1]; /* n_in, n_0, ..., n_H */
static int d;
static char act[MAX_LAYERS][64];
static char cost[64];
static double lam; /* the L2 penalty (lam/2) sum_L ||W^L||^2: an optional `l2` line */
static double *W[MAX_LAYERS], *b[MAX_LAYERS], *X, *Y;

/* A request this program cannot answer: say why on stdout (the protocol's ERROR line) and stop. */
static void fail(const char *what, const char *detail) {
    printf("ERROR backprop.c: %s %s\n", what, detail);
    exit(2);
}

static void expect(const char *word) {
    char got[64];
    if (scanf("%63s", got) != 1) fail("unexpected end of input; expected", word);
    if (strcmp(got, word) != 0) fail("unexpected token; expected", word);
}

static int read_int(void) {
    int v;
    if (scanf("%d", &v) != 1) fail("expected an integer", "");
    return v;
}

static double *read_matrix(int rows, int cols) {
    double *a = malloc(sizeof(double) * (size_t)(rows * cols > 0 ? rows * cols : 1));
    for (int k = 0; k < rows * cols; k++)
        if (scanf("%lf", &a[k]) != 1) fail("expected a number", "");
    return a;
}

/* One request; 0 at end of input (no more cases). */
static int read_request(void) {
    char magic[64];
    if (scanf("%63s", magic) != 1) return 0;
    if (strcmp(magic, "gradcheck") != 0) fail("not a gradcheck request:", magic);
    if (read_int() != 1) fail("unknown protocol version", "");
    expect("layers");
    layers = read_int();
    if (layers < 1 || layers > MAX_LAYERS) fail("too many layers", "");
    expect("sizes");
    for (int L = 0; L <= layers; L++) sizes[L] = read_int();
    expect("d");
    d = read_int();
    expect("activations");
    for (int L = 0; L < layers; L++)
        if (scanf("%63s", act[L]) != 1) fail("expected an activation name", "");
    expect("cost");
    if (scanf("%63s", cost) != 1) fail("expected a cost name", "");
    char word[64];
    lam = 0;
    if (scanf("%63s", word) != 1) fail("unexpected end of input; expected", "W");
    if (!strcmp(word, "l2")) { /* optional: l2 LAM */
        if (scanf("%lf", &lam) != 1) fail("expected a number after", "l2");
        if (scanf("%63s", word) != 1) fail("unexpected end of input; expected", "W");
    }
    if (strcmp(word, "W") != 0) fail("unexpected token; expected", "W");
    for (int L = 0; L < layers; L++) {
        if (L > 0) expect("W");
        read_int(); /* L */
        int M = read_int(), N = read_int();
        W[L] = read_matrix(M, N);
        expect("b");
        read_int();
        b[L] = read_matrix(1, read_int());
    }
    expect("X");
    int rows = read_int(), cols = read_int();
    X = read_matrix(rows, cols);
    expect("Y");
    rows = read_int(), cols = read_int();
    Y = read_matrix(rows, cols);
    expect("END");
    return 1;
}

static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* h(z) and h'(z) of the activation `name`, element-wise. */
static double h(const char *name, double z) {
    if (!strcmp(name, "identity")) return z;
    if (!strcmp(name, "sigmoid")) return sigmoid(z);
    if (!strcmp(name, "tanh")) return tanh(z);
    if (!strcmp(name, "relu")) return z > 0 ? z : 0;
    if (!strcmp(name, "leaky_relu")) return z > 0 ? z : 0.01 * z;
    if (!strcmp(name, "softplus")) return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    if (!strcmp(name, "elu")) return z > 0 ? z : expm1(z);
    fail("unsupported activation", name);
    return 0;
}

static double h_prime(const char *name, double z) {
    if (!strcmp(name, "identity")) return 1;
    if (!strcmp(name, "sigmoid")) return sigmoid(z) * (1 - sigmoid(z));
    if (!strcmp(name, "tanh")) return 1 - tanh(z) * tanh(z);
    if (!strcmp(name, "relu")) return z > 0 ? 1 : 0;
    if (!strcmp(name, "leaky_relu")) return z > 0 ? 1 : 0.01;
    if (!strcmp(name, "softplus")) return sigmoid(z);
    if (!strcmp(name, "elu")) return z > 0 ? 1 : exp(z);
    fail("unsupported activation", name);
    return 0;
}

/* dJ_i/da^H_n for the cost `cost`. */
static double dJ_da(double a, double y, int n_H) {
    if (!strcmp(cost, "quadratic")) return a - y;
    if (!strcmp(cost, "mse")) return 2 * (a - y) / n_H;
    if (!strcmp(cost, "cross_entropy")) return (a - y) / (a * (1 - a));
    if (!strcmp(cost, "categorical_cross_entropy")) return -y / a;
    fail("unsupported cost", cost);
    return 0;
}

static void answer(void) {
    int H = layers - 1;
    double *z[MAX_LAYERS], *a[MAX_LAYERS], *delta[MAX_LAYERS], *dW[MAX_LAYERS], *db[MAX_LAYERS];
    for (int L = 0; L <= H; L++) {
        int M = sizes[L], N = sizes[L + 1];
        z[L] = calloc((size_t)N, sizeof(double));
        a[L] = calloc((size_t)N, sizeof(double));
        delta[L] = calloc((size_t)N, sizeof(double));
        dW[L] = calloc((size_t)(M * N), sizeof(double));
        db[L] = calloc((size_t)N, sizeof(double));
    }
    for (int i = 0; i < d; i++) {
        /* forward pass; the input x is layer -1 */
        for (int L = 0; L <= H; L++) {
            int M = sizes[L], N = sizes[L + 1];
            const double *a_prev = L == 0 ? X + i * sizes[0] : a[L - 1];
            for (int n = 0; n < N; n++) {
                double s = b[L][n];
                for (int m = 0; m < M; m++) s += W[L][m * N + n] * a_prev[m]; /* z^L_n */
                z[L][n] = s;
            }
            if (!strcmp(act[L], "softmax")) {
                double top = z[L][0], total = 0;
                for (int n = 1; n < N; n++) top = z[L][n] > top ? z[L][n] : top;
                for (int n = 0; n < N; n++) total += a[L][n] = exp(z[L][n] - top);
                for (int n = 0; n < N; n++) a[L][n] /= total;
            } else {
                for (int n = 0; n < N; n++) a[L][n] = h(act[L], z[L][n]); /* a^L_n */
            }
        }
        /* delta^H = dJ/da^H (*) h'(z^H), or J_softmax^T dJ/da^H */
        int n_H = sizes[H + 1];
        const double *y = Y + i * n_H;
        if (!strcmp(act[H], "softmax")) {
            double dot = 0;
            for (int n = 0; n < n_H; n++) dot += a[H][n] * dJ_da(a[H][n], y[n], n_H);
            for (int n = 0; n < n_H; n++) delta[H][n] = a[H][n] * (dJ_da(a[H][n], y[n], n_H) - dot);
        } else {
            for (int n = 0; n < n_H; n++)
                delta[H][n] = dJ_da(a[H][n], y[n], n_H) * h_prime(act[H], z[H][n]);
        }
        /* delta^L = (W^{L+1} delta^{L+1}) (*) h'(z^L) */
        for (int L = H - 1; L >= 0; L--) {
            int N = sizes[L + 1], K = sizes[L + 2];
            for (int n = 0; n < N; n++) {
                double s = 0;
                for (int k = 0; k < K; k++) s += W[L + 1][n * K + k] * delta[L + 1][k];
                delta[L][n] = s * h_prime(act[L], z[L][n]);
            }
        }
        /* dJ/dw^L_mn += a^{L-1}_m delta^L_n, dJ/db^L_n += delta^L_n */
        for (int L = 0; L <= H; L++) {
            int M = sizes[L], N = sizes[L + 1];
            const double *a_prev = L == 0 ? X + i * sizes[0] : a[L - 1];
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) dW[L][m * N + n] += a_prev[m] * delta[L][n];
            for (int n = 0; n < N; n++) db[L][n] += delta[L][n];
        }
    }
    /* the batch average */
    for (int L = 0; L <= H; L++) {
        int M = sizes[L], N = sizes[L + 1];
        for (int k = 0; k < M * N; k++) dW[L][k] /= d;
#ifndef SLIP_L2_IGNORED
        for (int k = 0; k < M * N; k++) dW[L][k] += lam * W[L][k]; /* + lam W^L */
#endif
#ifndef SLIP_BIAS_SUM
        for (int n = 0; n < N; n++) db[L][n] /= d;
#endif
    }
#if FAULT == FAULT_CRASH
    fprintf(stderr, "backprop.c: about to crash on purpose\n");
    fflush(stderr);
    raise(SIGSEGV);
#elif FAULT == FAULT_GARBAGE
    printf("hello from C, no gradient today\nEND\n");
    fflush(stdout);
    return;
#elif FAULT == FAULT_HANG
    fprintf(stderr, "backprop.c: sleeping forever\n");
    fflush(stderr);
    for (;;) sleep(1);
#elif FAULT == FAULT_NAN
    db[0][0] = NAN;
#endif
    int skip_last = FAULT == FAULT_SHORT;
    for (int L = 0; L <= H; L++) {
        int M = sizes[L], N = sizes[L + 1];
        for (int m = 0; m < M; m++) {
            for (int n = 0; n < N; n++) printf("%.17g ", dW[L][m * N + n]);
            printf("\n");
        }
        for (int n = 0; n < N - (skip_last && L == H); n++) printf("%.17g ", db[L][n]);
        printf("\n");
    }
    printf("END\n");
    fflush(stdout); /* a pipe is block-buffered: without this, a persistent gradcheck waits */
    for (int L = 0; L <= H; L++) free(z[L]), free(a[L]), free(delta[L]), free(dW[L]), free(db[L]);
}

int main(void) {
    while (read_request()) {
        answer();
        for (int L = 0; L < layers; L++) free(W[L]), free(b[L]);
        free(X), free(Y);
    }
#if FAULT == FAULT_EXIT
    fprintf(stderr, "backprop.c: exiting with status 3 on purpose\n");
    return 3;
#endif
    return 0;
}
