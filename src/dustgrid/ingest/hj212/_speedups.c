/*
 * Optional C accelerator for dustgrid.ingest.hj212.codec.decode (the hot path only).
 *
 * decode(raw) takes one frame and returns either the finished Frame or None. None means
 * "not the plain case": the caller then runs the pure-Python decoder, which is the
 * reference (codec.decode_python) and produces every error message. So this file never
 * reports a frame error of its own; it only has to return, for the inputs it accepts,
 * exactly the Frame the pure-Python decoder returns (tests/ingest/hj212/
 * test_hj212_speedups.py checks that on random and mutated frames).
 *
 * Accepted here: `bytes` of "##" + 4-digit length + ASCII data segment + HJ 212 CRC (upper
 * or lower hex) + optional CRLF and nothing else; the standard header order
 * QN?;ST;CN;PW;MN;Flag?; without PNUM/PNO and without the split bit; CP pairs "key=value"
 * with exactly one '=', values empty or plain decimal numbers, at most one DataTime.
 * Rules that could drift (timestamps, key classification, unusual data flags) are not
 * re-implemented: the Python helpers are called, and the caches they fill are shared.
 *
 * Thread safety: calling a Python helper may let another thread run decode(); all working
 * state therefore lives on the C stack and holds its own references, and the key cache is
 * only changed where no Python code runs in between.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- configuration, set once by codec.py through configure() ---------------------- */

static PyObject *g_frame_type;      /* codec.Frame, called with its 15 fields */
static PyTypeObject *g_item_type;   /* cp.Item, a NamedTuple (tuple subclass) of 6 */
static PyObject *g_ts_cache;        /* cp._TS_CACHE: "yyyyMMddHHmmss" -> datetime */
static PyObject *g_parse_timestamp; /* cp.parse_timestamp(text) -> datetime */
static PyObject *g_check_qn;        /* codec._check_qn(qn) -> None */
static PyObject *g_classify_key;    /* cp.classify_key(key) -> (code, kind, metric) | None */
static PyObject *g_flag_info;       /* cp.flag_info(flag) -> (flag, valid) */
static PyObject *g_error_type;      /* errors.HJ212Error: a helper raising it -> fall back */
static PyObject *g_crc_name;        /* envelope.CRC_HJ212 */
static PyObject *g_normal_info;     /* ("N", True): an item without "-Flag" */
static PyObject *g_single_flags[128]; /* one-character data flag -> (flag, valid) */

/* CRC tables (see crc.py's docstring for the fold): TABLE[b] is 8 shift/XOR rounds of b;
 * M(b) = TABLE[b] >> 8 is one Appendix A step on the state byte and has order 8;
 * m_pow[j][b] = M**j(b); init_term[n % 8] = M**(n-1)(0xFF). */
static uint16_t crc_table[256];
static uint8_t m_pow[8][256];
static uint8_t init_term[8];

#define DATETIME_LEN 14
#define QN_LEN 17
#define MAX_ST 5
#define MAX_CN 7
#define MAX_MN 24
#define MAX_PW 64 /* codes.MAX_PW_LEN */
#define MAX_FLAG_DIGITS 3
#define MAX_FLAG 255
#define FLAG_ACK 1
#define FLAG_SPLIT 2
#define VERSION_SHIFT 2
#define HIGH_BITS 0x8080808080808080ULL
#define MAX_PAIRS 128 /* more CP pairs in one frame: left to Python */
#define MAX_NUMBER 64 /* longer value text: left to Python */
#define N_FIELDS 15   /* Frame's fields */

/* ---- key classification: cp.classify_key, cached by key bytes ---------------------- */

enum { CLS_EXTRA = 0, CLS_FLAG = 1, CLS_VALUE = 2 };

typedef struct {
    PyObject *key_str; /* the key as str */
    PyObject *code;    /* NULL for CLS_EXTRA */
    PyObject *kind;
    PyObject *metric;
    int cls;
} Spec;

#define KEY_MAX 40
#define CACHE_SLOTS 4096 /* power of two */
#define CACHE_LIMIT 2048 /* cleared (at the start of a frame) once this many keys */

typedef struct {
    Spec spec; /* spec.key_str == NULL: empty slot */
    uint32_t hash;
    Py_ssize_t len;
    char key[KEY_MAX];
} Slot;

static Slot key_cache[CACHE_SLOTS];
static Py_ssize_t key_cache_used;

static void
spec_release(Spec *s)
{
    Py_CLEAR(s->key_str);
    Py_CLEAR(s->code);
    Py_CLEAR(s->kind);
    Py_CLEAR(s->metric);
}

static void
spec_copy(Spec *dst, const Spec *src)
{
    dst->key_str = Py_NewRef(src->key_str);
    dst->code = Py_XNewRef(src->code);
    dst->kind = Py_XNewRef(src->kind);
    dst->metric = Py_XNewRef(src->metric);
    dst->cls = src->cls;
}

static void
key_cache_clear(void)
{
    for (Py_ssize_t i = 0; i < CACHE_SLOTS; i++) {
        spec_release(&key_cache[i].spec); /* str/None only: runs no Python code */
    }
    key_cache_used = 0;
}

static uint32_t
fnv1a(const char *s, Py_ssize_t n)
{
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    }
    return h;
}

static PyObject *
ascii_str(const char *s, Py_ssize_t n)
{
    PyObject *u = PyUnicode_New(n, 127);
    if (u != NULL && n) {
        memcpy(PyUnicode_DATA(u), s, (size_t)n);
    }
    return u;
}

/* Slot holding key, or the empty slot where it would go (NULL if the table is full). */
static Slot *
probe(const char *key, Py_ssize_t n, uint32_t h)
{
    Py_ssize_t i = (Py_ssize_t)(h & (CACHE_SLOTS - 1));
    for (Py_ssize_t tries = 0; tries < CACHE_SLOTS; tries++) {
        Slot *s = &key_cache[i];
        if (s->spec.key_str == NULL ||
            (s->hash == h && s->len == n && memcmp(s->key, key, (size_t)n) == 0)) {
            return s;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    return NULL;
}

/* Fill *out (owned references) for a key. 0 ok, -1 Python error. */
static int
get_spec(const char *key, Py_ssize_t n, Spec *out)
{
    uint32_t h = 0;
    if (n < KEY_MAX) {
        h = fnv1a(key, n);
        Slot *s = probe(key, n, h);
        if (s != NULL && s->spec.key_str != NULL) {
            spec_copy(out, &s->spec);
            return 0;
        }
    }
    PyObject *key_str = ascii_str(key, n);
    if (key_str == NULL) {
        return -1;
    }
    PyObject *found = PyObject_CallOneArg(g_classify_key, key_str);
    if (found == NULL) {
        Py_DECREF(key_str);
        return -1;
    }
    out->key_str = key_str;
    out->code = out->kind = out->metric = NULL;
    out->cls = CLS_EXTRA;
    if (found != Py_None) {
        if (!PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 3 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(found, 0))) {
            Py_DECREF(found);
            spec_release(out);
            PyErr_SetString(PyExc_TypeError, "classify_key must return (code, kind, metric)");
            return -1;
        }
        out->code = Py_NewRef(PyTuple_GET_ITEM(found, 0));
        PyUnicode_InternInPlace(&out->code); /* same code, same object: see same_str */
        out->kind = Py_NewRef(PyTuple_GET_ITEM(found, 1));
        out->metric = Py_NewRef(PyTuple_GET_ITEM(found, 2));
        out->cls = out->kind == Py_None ? CLS_FLAG : CLS_VALUE;
    }
    Py_DECREF(found);
    /* Insert; probe again: the call above may have let another thread change the table. */
    if (n < KEY_MAX && key_cache_used < CACHE_LIMIT) {
        Slot *s = probe(key, n, h);
        if (s != NULL && s->spec.key_str == NULL) {
            spec_copy(&s->spec, out);
            s->hash = h;
            s->len = n;
            memcpy(s->key, key, (size_t)n);
            key_cache_used++;
        }
    }
    return 0;
}

/* ---- small parsers ------------------------------------------------------------------ */

static inline int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A run of [lo, hi] ASCII digits at s[*p], then ';' (consumed). */
static int
digits_then_semicolon(const char *s, Py_ssize_t end, Py_ssize_t *p, Py_ssize_t lo,
                      Py_ssize_t hi, Py_ssize_t *at, Py_ssize_t *len)
{
    Py_ssize_t i = *p;
    while (i < end && is_digit(s[i])) {
        i++;
    }
    Py_ssize_t n = i - *p;
    if (n < lo || n > hi || i >= end || s[i] != ';') {
        return 0;
    }
    *at = *p;
    *len = n;
    *p = i + 1;
    return 1;
}

static int
literal(const char *s, Py_ssize_t end, Py_ssize_t *p, const char *lit, Py_ssize_t n)
{
    if (end - *p < n || memcmp(s + *p, lit, (size_t)n) != 0) {
        return 0;
    }
    *p += n;
    return 1;
}

/* Up to the next ';' (consumed); the field is [at, at + len). */
/* PW/MN text as codes.HEADER_TEXT_FORBIDDEN says: printable ASCII, no ';' or '&' (anything
 * else is left to Python, which names the error) */
static int
header_text(const char *s, Py_ssize_t at, Py_ssize_t len)
{
    for (Py_ssize_t i = at; i < at + len; i++) {
        char c = s[i];
        if (c < 0x20 || c > 0x7E || c == '&') {
            return 0;
        }
    }
    return 1;
}

static int
field_then_semicolon(const char *s, Py_ssize_t end, Py_ssize_t *p, Py_ssize_t *at,
                     Py_ssize_t *len)
{
    Py_ssize_t i = *p;
    while (i < end && s[i] != ';') {
        i++;
    }
    if (i >= end) {
        return 0;
    }
    *at = *p;
    *len = i - *p;
    *p = i + 1;
    return 1;
}

/* Text that float() reads exactly as PyOS_string_to_double does (no blanks, no '_',
 * no nan/inf words): [+-]? (digits ('.' digits*)? | '.' digits) ([eE] [+-]? digits)? */
static int
plain_number(const char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0, mantissa = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && is_digit(s[i])) {
        i++;
        mantissa++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            mantissa++;
        }
    }
    if (!mantissa) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        Py_ssize_t exponent = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        while (i < n && is_digit(s[i])) {
            i++;
            exponent++;
        }
        if (!exponent) {
            return 0;
        }
    }
    return i == n;
}

/* A finite float from a plain number; NULL without error: leave it to Python. */
static PyObject *
number(const char *s, Py_ssize_t n)
{
    char buf[MAX_NUMBER];
    if (n >= MAX_NUMBER || !plain_number(s, n)) {
        return NULL;
    }
#if FLT_EVAL_METHOD == 0
    /* Exact fast path (Clinger): a mantissa below 2**53 times or divided by 10**k with
     * k <= 22 is one correctly rounded IEEE operation on exact operands, so it equals the
     * correctly rounded value PyOS_string_to_double returns. */
    {
        static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        Py_ssize_t i = 0;
        int negative = 0, exp10 = 0, overflow = 0;
        uint64_t m = 0;
        if (s[i] == '+' || s[i] == '-') {
            negative = s[i++] == '-';
        }
        for (; i < n && is_digit(s[i]); i++) {
            m = m * 10 + (uint64_t)(s[i] - '0');
            overflow |= m >= (1ULL << 53);
        }
        if (i < n && s[i] == '.') {
            for (i++; i < n && is_digit(s[i]); i++) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                overflow |= m >= (1ULL << 53);
                exp10--;
            }
        }
        if (i == n && !overflow && exp10 >= -22) { /* no exponent part: the usual case */
            double x = (double)m / pow10[-exp10];
            return PyFloat_FromDouble(negative ? -x : x);
        }
    }
#endif
    memcpy(buf, s, (size_t)n);
    buf[n] = '\0';
    char *end = NULL;
    double x = PyOS_string_to_double(buf, &end, NULL);
    if (x == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return NULL; /* MemoryError: propagate */
        }
        PyErr_Clear();
        return NULL;
    }
    if (end != buf + n || !isfinite(x)) {
        return NULL;
    }
    return PyFloat_FromDouble(x);
}

/* Call a validator; its HJ212Error means "invalid": cleared, and NULL returned. */
static PyObject *
call_validator(PyObject *fn, PyObject *arg)
{
    PyObject *out = PyObject_CallOneArg(fn, arg);
    if (out == NULL && PyErr_ExceptionMatches(g_error_type)) {
        PyErr_Clear();
    }
    return out;
}

static inline int
same_str(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (PyUnicode_CHECK_INTERNED(a) && PyUnicode_CHECK_INTERNED(b)) {
        return 0;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    return n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
           memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

/* ---- CRC ---------------------------------------------------------------------------- */

/* HJ 212-2017 Appendix A CRC of data[0:n]: the register's low byte is discarded at every
 * step, so the result depends only on G_j, the XOR of the bytes whose distance from the
 * end is j (mod 8): eight-byte words XORed together, then eight look-ups. *ascii tells
 * whether every byte is < 0x80. */
static unsigned
hj212_crc(const uint8_t *data, Py_ssize_t n, int *ascii)
{
    if (n == 0) {
        *ascii = 1;
        return 0xFFFF;
    }
    uint64_t acc = 0, word;
    uint8_t g[8] = {0}, tail = 0;
    Py_ssize_t head = n % 8; /* bytes before the first whole word counted from the end */
    for (Py_ssize_t i = head; i < n; i += 8) {
        memcpy(&word, data + i, 8);
        acc ^= word;
        tail |= (word & HIGH_BITS) != 0;
    }
    uint8_t bytes[8];
    memcpy(bytes, &acc, 8); /* bytes[m]: offset m in a word, distance 7 - m from its end */
    for (int j = 0; j < 8; j++) {
        g[j] = bytes[7 - j];
    }
    for (Py_ssize_t i = 0; i < head; i++) {
        g[(n - 1 - i) & 7] ^= data[i];
        tail |= data[i] >> 7;
    }
    *ascii = !tail;
    unsigned x = init_term[n % 8];
    for (int j = 0; j < 8; j++) {
        x ^= m_pow[j][g[j]];
    }
    return crc_table[x];
}

/* ---- decode ------------------------------------------------------------------------- */

typedef struct {
    const char *val;
    Py_ssize_t vlen;
    Spec spec; /* owned; key_str NULL for the DataTime pair */
} Pair;

enum { OK = 0, FALLBACK = 1, FAILED = 2 };

/* Items and extras of the CP pairs. Returns OK, FALLBACK or FAILED (Python error set). */
static int
build_cp(Pair *pairs, Py_ssize_t npairs, Py_ssize_t nitems, PyObject **items_out,
         PyObject **extra_out)
{
    PyObject *items = PyList_New(nitems);
    PyObject *extra = PyDict_New();
    if (items == NULL || extra == NULL) {
        goto failed;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < npairs; i++) {
        Pair *pr = &pairs[i];
        if (pr->spec.key_str == NULL || pr->spec.cls == CLS_FLAG) {
            continue;
        }
        if (pr->spec.cls == CLS_EXTRA) {
            PyObject *text = ascii_str(pr->val, pr->vlen);
            if (text == NULL || PyDict_SetItem(extra, pr->spec.key_str, text) < 0) {
                Py_XDECREF(text);
                goto failed;
            }
            Py_DECREF(text);
            continue;
        }
        PyObject *value;
        if (pr->vlen == 0) {
            value = Py_NewRef(Py_None);
        }
        else if ((value = number(pr->val, pr->vlen)) == NULL) {
            if (PyErr_Occurred()) {
                goto failed;
            }
            goto fallback;
        }
        /* the item's data flag: the last "<code>-Flag" pair */
        Pair *flag = NULL;
        for (Py_ssize_t j = 0; j < npairs; j++) {
            if (pairs[j].spec.key_str != NULL && pairs[j].spec.cls == CLS_FLAG &&
                same_str(pairs[j].spec.code, pr->spec.code)) {
                flag = &pairs[j];
            }
        }
        PyObject *info;
        unsigned char c = flag != NULL && flag->vlen == 1 ? (unsigned char)flag->val[0] : 0;
        if (flag == NULL) {
            info = Py_NewRef(g_normal_info);
        }
        else if (c && c < 128 && g_single_flags[c] != NULL) {
            info = Py_NewRef(g_single_flags[c]);
        }
        else {
            PyObject *text = ascii_str(flag->val, flag->vlen);
            info = text == NULL ? NULL : PyObject_CallOneArg(g_flag_info, text);
            Py_XDECREF(text);
            if (info == NULL) {
                Py_DECREF(value);
                goto failed;
            }
            if (!PyTuple_CheckExact(info) || PyTuple_GET_SIZE(info) != 2) {
                Py_DECREF(info);
                Py_DECREF(value);
                PyErr_SetString(PyExc_TypeError, "flag_info must return (flag, valid)");
                goto failed;
            }
        }
        PyObject *item = g_item_type->tp_alloc(g_item_type, 6);
        if (item == NULL) {
            Py_DECREF(info);
            Py_DECREF(value);
            goto failed;
        }
        PyTuple_SET_ITEM(item, 0, Py_NewRef(pr->spec.code));
        PyTuple_SET_ITEM(item, 1, Py_NewRef(pr->spec.metric));
        PyTuple_SET_ITEM(item, 2, Py_NewRef(pr->spec.kind));
        PyTuple_SET_ITEM(item, 3, value);
        PyTuple_SET_ITEM(item, 4, Py_NewRef(PyTuple_GET_ITEM(info, 0)));
        PyTuple_SET_ITEM(item, 5, Py_NewRef(PyTuple_GET_ITEM(info, 1)));
        Py_DECREF(info);
        PyList_SET_ITEM(items, k++, item);
    }
    /* flags of codes without a value are kept as extras (after the others) */
    for (Py_ssize_t i = 0; i < npairs; i++) {
        Pair *pr = &pairs[i];
        if (pr->spec.key_str == NULL || pr->spec.cls != CLS_FLAG) {
            continue;
        }
        int valued = 0;
        for (Py_ssize_t j = 0; j < npairs && !valued; j++) {
            valued = pairs[j].spec.key_str != NULL && pairs[j].spec.cls == CLS_VALUE &&
                     same_str(pairs[j].spec.code, pr->spec.code);
        }
        if (!valued) {
            PyObject *text = ascii_str(pr->val, pr->vlen);
            if (text == NULL || PyDict_SetItem(extra, pr->spec.key_str, text) < 0) {
                Py_XDECREF(text);
                goto failed;
            }
            Py_DECREF(text);
        }
    }
    *items_out = items;
    *extra_out = extra;
    return OK;
fallback:
    Py_XDECREF(items); /* a list with NULL slots deallocates fine */
    Py_XDECREF(extra);
    return FALLBACK;
failed:
    Py_XDECREF(items);
    Py_XDECREF(extra);
    return FAILED;
}

static PyObject *
decode(PyObject *module, PyObject *arg)
{
    (void)module;
    if (g_frame_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(arg)) {
        Py_RETURN_NONE;
    }
    const char *raw = PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);

    /* envelope: exactly "##" LLLL data CRC, then CRLF or nothing */
    if (n < 10 || raw[0] != '#' || raw[1] != '#' || !is_digit(raw[2]) || !is_digit(raw[3]) ||
        !is_digit(raw[4]) || !is_digit(raw[5])) {
        Py_RETURN_NONE;
    }
    Py_ssize_t len =
        (raw[2] - '0') * 1000 + (raw[3] - '0') * 100 + (raw[4] - '0') * 10 + (raw[5] - '0');
    Py_ssize_t stop = 6 + len + 4;
    if (!(n == stop || (n == stop + 2 && raw[stop] == '\r' && raw[stop + 1] == '\n'))) {
        Py_RETURN_NONE;
    }
    const char *d = raw + 6;
    int ascii;
    unsigned crc = hj212_crc((const uint8_t *)d, len, &ascii);
    if (!ascii) {
        Py_RETURN_NONE; /* non-ASCII data */
    }
    static const char hex[] = "0123456789ABCDEF";
    for (int k = 0; k < 4; k++) {
        char c = d[len + k];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        if (c != hex[(crc >> (12 - 4 * k)) & 0xF]) {
            Py_RETURN_NONE;
        }
    }

    /* the first "CP=&&" ends the header */
    Py_ssize_t cp = -1;
    for (Py_ssize_t i = 0; i + 5 <= len; i++) {
        if (d[i] == 'C' && memcmp(d + i, "CP=&&", 5) == 0) {
            cp = i;
            break;
        }
    }
    if (cp < 0) {
        Py_RETURN_NONE;
    }

    /* header in the standard order: (QN=<17 digits>;)? ST;CN;PW;MN;(Flag;)? */
    Py_ssize_t p = 0, qn_at = -1, qn_len = 0, st_at, st_len, cn_at, cn_len, pw_at, pw_len;
    Py_ssize_t mn_at, mn_len, flag_at = 0, flag_len = 0;
    if (literal(d, cp, &p, "QN=", 3)) {
        if (!digits_then_semicolon(d, cp, &p, QN_LEN, QN_LEN, &qn_at, &qn_len)) {
            Py_RETURN_NONE;
        }
    }
    if (!literal(d, cp, &p, "ST=", 3) ||
        !digits_then_semicolon(d, cp, &p, 1, MAX_ST, &st_at, &st_len) ||
        !literal(d, cp, &p, "CN=", 3) ||
        !digits_then_semicolon(d, cp, &p, 1, MAX_CN, &cn_at, &cn_len) ||
        !literal(d, cp, &p, "PW=", 3) || !field_then_semicolon(d, cp, &p, &pw_at, &pw_len) ||
        !literal(d, cp, &p, "MN=", 3) || !field_then_semicolon(d, cp, &p, &mn_at, &mn_len) ||
        mn_len < 1 || mn_len > MAX_MN || pw_len > MAX_PW || !header_text(d, pw_at, pw_len) ||
        !header_text(d, mn_at, mn_len)) {
        Py_RETURN_NONE;
    }
    if (p < cp && (!literal(d, cp, &p, "Flag=", 5) ||
                   !digits_then_semicolon(d, cp, &p, 1, MAX_FLAG_DIGITS, &flag_at, &flag_len))) {
        Py_RETURN_NONE;
    }
    if (p != cp) {
        Py_RETURN_NONE; /* PNUM/PNO, another order, more fields: Python */
    }
    long flag = 0;
    for (Py_ssize_t i = 0; i < flag_len; i++) {
        flag = flag * 10 + (d[flag_at + i] - '0');
    }
    if (flag > MAX_FLAG || (flag & FLAG_SPLIT)) {
        Py_RETURN_NONE;
    }

    /* the CP block, closed by "&&" */
    Py_ssize_t body = cp + 5, body_end = len - 2;
    if (body_end < body || d[len - 2] != '&' || d[len - 1] != '&') {
        Py_RETURN_NONE;
    }

    if (key_cache_used >= CACHE_LIMIT) {
        key_cache_clear();
    }
    Pair pairs[MAX_PAIRS];
    Py_ssize_t npairs = 0, nitems = 0, dt_pair = -1;
    int status = OK;
    PyObject *fields[N_FIELDS] = {NULL};
    PyObject *frame = NULL;

    /* pairs, split at ',' and ';' alike; each exactly one '=' and a non-empty key */
    for (Py_ssize_t i = body; i < body_end;) {
        Py_ssize_t j = i, eq = -1, eqs = 0;
        while (j < body_end && d[j] != ',' && d[j] != ';') {
            if (d[j] == '=') {
                eqs++;
                eq = j;
            }
            j++;
        }
        if (j > i) {
            if (eqs != 1 || eq == i || npairs >= MAX_PAIRS) {
                status = FALLBACK;
                goto done;
            }
            Pair *pr = &pairs[npairs];
            pr->val = d + eq + 1;
            pr->vlen = j - eq - 1;
            pr->spec = (Spec){NULL, NULL, NULL, NULL, CLS_EXTRA};
            if (eq - i == 8 && memcmp(d + i, "DataTime", 8) == 0) {
                if (dt_pair >= 0) {
                    status = FALLBACK; /* repeated DataTime */
                    goto done;
                }
                dt_pair = npairs++;
            }
            else {
                if (get_spec(d + i, eq - i, &pr->spec) < 0) {
                    status = FAILED;
                    goto done;
                }
                npairs++;
                nitems += pr->spec.cls == CLS_VALUE;
            }
        }
        i = j + 1;
    }
    if (nitems && dt_pair < 0) {
        status = FALLBACK; /* "missing DataTime" */
        goto done;
    }

    /* Frame(qn, st, cn, pw, mn, flag, version, ack_wanted, split, pnum, pno, data_time,
     *       items, cp, crc) */
    if (qn_at >= 0) {
        if ((fields[0] = ascii_str(d + qn_at, qn_len)) == NULL) {
            status = FAILED;
            goto done;
        }
        PyObject *date = ascii_str(d + qn_at, DATETIME_LEN);
        if (date == NULL) {
            status = FAILED;
            goto done;
        }
        PyObject *known = PyDict_GetItemWithError(g_ts_cache, date);
        Py_DECREF(date);
        if (known == NULL) {
            if (PyErr_Occurred()) {
                status = FAILED;
                goto done;
            }
            PyObject *checked = call_validator(g_check_qn, fields[0]);
            if (checked == NULL) {
                status = PyErr_Occurred() ? FAILED : FALLBACK;
                goto done;
            }
            Py_DECREF(checked);
        }
    }
    else {
        fields[0] = Py_NewRef(Py_None);
    }
    if (dt_pair >= 0) {
        Pair *pr = &pairs[dt_pair];
        PyObject *text = ascii_str(pr->val, pr->vlen);
        if (text == NULL) {
            status = FAILED;
            goto done;
        }
        PyObject *known = PyDict_GetItemWithError(g_ts_cache, text);
        if (known != NULL) {
            fields[11] = Py_NewRef(known);
        }
        else if (!PyErr_Occurred()) {
            fields[11] = call_validator(g_parse_timestamp, text);
        }
        Py_DECREF(text);
        if (fields[11] == NULL) {
            status = PyErr_Occurred() ? FAILED : FALLBACK;
            goto done;
        }
    }
    else {
        fields[11] = Py_NewRef(Py_None);
    }
    status = build_cp(pairs, npairs, nitems, &fields[12], &fields[13]);
    if (status != OK) {
        goto done;
    }
    fields[1] = ascii_str(d + st_at, st_len);
    fields[2] = ascii_str(d + cn_at, cn_len);
    fields[3] = ascii_str(d + pw_at, pw_len);
    fields[4] = ascii_str(d + mn_at, mn_len);
    fields[5] = PyLong_FromLong(flag);
    fields[6] = PyLong_FromLong(flag >> VERSION_SHIFT);
    fields[7] = PyBool_FromLong(flag & FLAG_ACK);
    fields[8] = Py_NewRef(Py_False);
    fields[9] = Py_NewRef(Py_None);
    fields[10] = Py_NewRef(Py_None);
    fields[14] = Py_NewRef(g_crc_name);
    for (int k = 0; k < N_FIELDS; k++) {
        if (fields[k] == NULL) {
            status = FAILED;
            goto done;
        }
    }
    frame = PyObject_Vectorcall(g_frame_type, fields, N_FIELDS, NULL);
    if (frame == NULL) {
        status = FAILED;
    }

done:
    for (Py_ssize_t k = 0; k < npairs; k++) {
        spec_release(&pairs[k].spec);
    }
    for (int k = 0; k < N_FIELDS; k++) {
        Py_XDECREF(fields[k]);
    }
    if (status == FAILED) {
        Py_XDECREF(frame);
        return NULL;
    }
    if (status == FALLBACK) {
        Py_RETURN_NONE;
    }
    return frame;
}

/* ---- configure ---------------------------------------------------------------------- */

static PyObject *
configure(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *names[] = {"frame_type", "item_type", "ts_cache", "parse_timestamp",
                            "check_qn", "classify_key", "flag_info", "flag_infos",
                            "error_type", "crc_name", NULL};
    PyObject *frame_type, *item_type, *ts_cache, *parse_timestamp, *check_qn, *classify_key;
    PyObject *flag_info, *flag_infos, *error_type, *crc_name;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!OOOOO!OU:configure", names,
                                     &frame_type, &item_type, &PyDict_Type, &ts_cache,
                                     &parse_timestamp, &check_qn, &classify_key, &flag_info,
                                     &PyDict_Type, &flag_infos, &error_type, &crc_name)) {
        return NULL;
    }
    if (!PyType_Check(item_type) ||
        !PyType_IsSubtype((PyTypeObject *)item_type, &PyTuple_Type) ||
        ((PyTypeObject *)item_type)->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "item_type must be a NamedTuple class");
        return NULL;
    }
    if (!PyType_Check(error_type) ||
        !PyType_IsSubtype((PyTypeObject *)error_type, (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "error_type must be an exception class");
        return NULL;
    }
    PyObject *single[128] = {NULL};
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(flag_infos, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) != 1 ||
            PyUnicode_READ_CHAR(key, 0) >= 128 || !PyTuple_CheckExact(value) ||
            PyTuple_GET_SIZE(value) != 2) {
            PyErr_SetString(PyExc_TypeError, "flag_infos: one-character flag -> (flag, valid)");
            return NULL;
        }
        single[PyUnicode_READ_CHAR(key, 0)] = value;
    }
    PyObject *normal = PyDict_GetItemString(flag_infos, "N");
    if (normal == NULL) {
        PyErr_SetString(PyExc_ValueError, "flag_infos has no 'N'");
        return NULL;
    }
    Py_XSETREF(g_frame_type, Py_NewRef(frame_type));
    Py_XSETREF(g_item_type, (PyTypeObject *)Py_NewRef(item_type));
    Py_XSETREF(g_ts_cache, Py_NewRef(ts_cache));
    Py_XSETREF(g_parse_timestamp, Py_NewRef(parse_timestamp));
    Py_XSETREF(g_check_qn, Py_NewRef(check_qn));
    Py_XSETREF(g_classify_key, Py_NewRef(classify_key));
    Py_XSETREF(g_flag_info, Py_NewRef(flag_info));
    Py_XSETREF(g_error_type, Py_NewRef(error_type));
    Py_XSETREF(g_crc_name, Py_NewRef(crc_name));
    Py_XSETREF(g_normal_info, Py_NewRef(normal));
    for (int c = 0; c < 128; c++) {
        Py_XSETREF(g_single_flags[c], Py_XNewRef(single[c]));
    }
    key_cache_clear();
    Py_RETURN_NONE;
}

static PyObject *
crc(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    int ascii;
    unsigned value = hj212_crc(view.buf, view.len, &ascii);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(value);
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_O,
     "decode(raw) -> Frame | None: the plain case of codec.decode; None: use Python."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "Hand over the Python types, caches and helpers decode() uses (codec.py does)."},
    {"crc", crc, METH_O, "crc(data) -> int: the HJ 212-2017 Appendix A CRC (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Optional C accelerator of the HJ 212 codec's hot path (see codec.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    /* Appendix A: crc = (crc >> 8) ^ byte, then 8 reflected shift/XOR rounds with 0xA001.
     * (crc >> 8) ^ byte < 256, so one step is a look-up of the classic table. */
    for (unsigned b = 0; b < 256; b++) {
        unsigned v = b;
        for (int r = 0; r < 8; r++) {
            v = (v & 1) ? (v >> 1) ^ 0xA001 : v >> 1;
        }
        crc_table[b] = (uint16_t)v;
    }
    for (unsigned b = 0; b < 256; b++) {
        m_pow[0][b] = (uint8_t)b;
        for (int j = 1; j < 8; j++) {
            m_pow[j][b] = (uint8_t)(crc_table[m_pow[j - 1][b]] >> 8);
        }
    }
    for (int r = 0; r < 8; r++) {
        unsigned v = 0xFF; /* M**(r-1)(0xFF), the power taken mod 8 */
        for (int k = 0; k < (r + 7) % 8; k++) {
            v = crc_table[v] >> 8;
        }
        init_term[r] = (uint8_t)v;
    }
    for (unsigned b = 0; b < 256; b++) {
        if ((unsigned)(crc_table[m_pow[7][b]] >> 8) != b) { /* M**8 must be the identity */
            PyErr_SetString(PyExc_ImportError, "_speedups: CRC step map is not of order 8");
            return NULL;
        }
    }
    return PyModule_Create(&module_def);
}
