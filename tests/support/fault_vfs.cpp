// tests/support/fault_vfs.cpp: a test-only SQLite VFS that fails the N-th write, sync or
// lock, loaded into the real program with LD_PRELOAD (libmm_fault_vfs.so) so a scripted
// session, a synthesis run or an export meets the fault exactly where SQLite would meet a
// failing disk. It wraps the default VFS and becomes the default itself when the library
// loads; the program is not changed and knows nothing of it.
//
// Environment (read once, at load):
//   MM_FAULT_OP    write | sync | lock   the kind of call to fail (lock: xLock and xShmLock)
//   MM_FAULT_AT    N >= 1: the N-th call of that kind fails, and every later one of that kind
//                  too (a disk that failed stays failed); 0 or unset: nothing fails
//   MM_FAULT_COUNT FILE: at exit, writes "write W\nsync S\nlock L\n" (calls seen) to FILE,
//                  so a test learns how many points a run has before it loops over them
// A failed write returns SQLITE_IOERR_WRITE, a sync SQLITE_IOERR_FSYNC, a lock
// SQLITE_IOERR_LOCK (xShmLock: SQLITE_IOERR_SHMLOCK), as a real device error would.
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

enum Op { kWrite = 0, kSync = 1, kLock = 2 };

struct State {
  sqlite3_vfs* real = nullptr;
  int op = -1;
  long long at = 0;
  const char* count_file = nullptr;  // constant-initialized: the constructor below may run first
  std::atomic<long long> seen[3] = {{0}, {0}, {0}};
};
State g;

// True when this call (of kind op) is to fail.
bool fail(Op op) {
  const long long n = ++g.seen[op];
  return g.op == op && g.at > 0 && n >= g.at;
}

// Our file: the method table, then the real VFS's file right after it.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_file* R(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

int x_close(sqlite3_file* f) {
  const int rc = R(f)->pMethods->xClose(R(f));
  return rc;
}
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 o) { return R(f)->pMethods->xRead(R(f), p, n, o); }
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
  if (fail(kWrite)) return SQLITE_IOERR_WRITE;
  return R(f)->pMethods->xWrite(R(f), p, n, o);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (fail(kWrite)) return SQLITE_IOERR_TRUNCATE;
  return R(f)->pMethods->xTruncate(R(f), size);
}
int x_sync(sqlite3_file* f, int flags) {
  if (fail(kSync)) return SQLITE_IOERR_FSYNC;
  return R(f)->pMethods->xSync(R(f), flags);
}
int x_size(sqlite3_file* f, sqlite3_int64* s) { return R(f)->pMethods->xFileSize(R(f), s); }
int x_lock(sqlite3_file* f, int level) {
  if (fail(kLock)) return SQLITE_IOERR_LOCK;
  return R(f)->pMethods->xLock(R(f), level);
}
int x_unlock(sqlite3_file* f, int level) { return R(f)->pMethods->xUnlock(R(f), level); }
int x_check(sqlite3_file* f, int* out) { return R(f)->pMethods->xCheckReservedLock(R(f), out); }
int x_control(sqlite3_file* f, int op, void* arg) { return R(f)->pMethods->xFileControl(R(f), op, arg); }
int x_sector(sqlite3_file* f) { return R(f)->pMethods->xSectorSize(R(f)); }
int x_caps(sqlite3_file* f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return R(f)->pMethods->xShmMap(R(f), pg, sz, extend, pp);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  // Only taking a lock can fail; releasing one always succeeds, as with a real file.
  if ((flags & SQLITE_SHM_LOCK) && fail(kLock)) return SQLITE_IOERR_SHMLOCK;
  return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return R(f)->pMethods->xShmUnmap(R(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** pp) { return R(f)->pMethods->xFetch(R(f), o, n, pp); }
int x_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) { return R(f)->pMethods->xUnfetch(R(f), o, p); }

sqlite3_io_methods g_methods[4];  // by the real file's iVersion (1..3)

const sqlite3_io_methods* methods_like(const sqlite3_io_methods* real) {
  const int v = real->iVersion < 1 ? 1 : (real->iVersion > 3 ? 3 : real->iVersion);
  sqlite3_io_methods& m = g_methods[v];
  m.iVersion = v;
  m.xClose = x_close;
  m.xRead = x_read;
  m.xWrite = x_write;
  m.xTruncate = x_truncate;
  m.xSync = x_sync;
  m.xFileSize = x_size;
  m.xLock = x_lock;
  m.xUnlock = x_unlock;
  m.xCheckReservedLock = x_check;
  m.xFileControl = x_control;
  m.xSectorSize = x_sector;
  m.xDeviceCharacteristics = x_caps;
  if (v >= 2) {
    m.xShmMap = x_shm_map;
    m.xShmLock = x_shm_lock;
    m.xShmBarrier = x_shm_barrier;
    m.xShmUnmap = x_shm_unmap;
  }
  if (v >= 3) {
    m.xFetch = x_fetch;
    m.xUnfetch = x_unfetch;
  }
  return &m;
}

int v_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  File* p = reinterpret_cast<File*>(f);
  p->real = reinterpret_cast<sqlite3_file*>(p + 1);
  p->base.pMethods = nullptr;
  const int rc = g.real->xOpen(g.real, name, p->real, flags, out_flags);
  if (p->real->pMethods) p->base.pMethods = methods_like(p->real->pMethods);
  return rc;
}
int v_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g.real->xDelete(g.real, name, sync_dir); }
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g.real->xAccess(g.real, name, flags, out); }
int v_full(sqlite3_vfs*, const char* name, int n, char* out) { return g.real->xFullPathname(g.real, name, n, out); }
void* v_dlopen(sqlite3_vfs*, const char* name) { return g.real->xDlOpen(g.real, name); }
void v_dlerror(sqlite3_vfs*, int n, char* out) { g.real->xDlError(g.real, n, out); }
void (*v_dlsym(sqlite3_vfs*, void* h, const char* sym))(void) { return g.real->xDlSym(g.real, h, sym); }
void v_dlclose(sqlite3_vfs*, void* h) { g.real->xDlClose(g.real, h); }
int v_random(sqlite3_vfs*, int n, char* out) { return g.real->xRandomness(g.real, n, out); }
int v_sleep(sqlite3_vfs*, int us) { return g.real->xSleep(g.real, us); }
int v_time(sqlite3_vfs*, double* t) { return g.real->xCurrentTime(g.real, t); }
int v_last_error(sqlite3_vfs*, int n, char* out) { return g.real->xGetLastError(g.real, n, out); }
int v_time64(sqlite3_vfs*, sqlite3_int64* t) { return g.real->xCurrentTimeInt64(g.real, t); }

sqlite3_vfs g_vfs;

void write_counts() {
  if (!g.count_file || !*g.count_file) return;
  if (FILE* f = std::fopen(g.count_file, "w")) {
    std::fprintf(f, "write %lld\nsync %lld\nlock %lld\n", g.seen[kWrite].load(), g.seen[kSync].load(),
                 g.seen[kLock].load());
    std::fclose(f);
  }
}

__attribute__((constructor)) void install() {
  if (sqlite3_initialize() != SQLITE_OK) return;
  g.real = sqlite3_vfs_find(nullptr);
  if (!g.real) return;
  if (const char* op = std::getenv("MM_FAULT_OP")) {
    g.op = !std::strcmp(op, "write") ? kWrite : !std::strcmp(op, "sync") ? kSync : !std::strcmp(op, "lock") ? kLock : -1;
  }
  if (const char* at = std::getenv("MM_FAULT_AT")) g.at = std::atoll(at);
  if (const char* c = std::getenv("MM_FAULT_COUNT")) g.count_file = c;
  g_vfs.iVersion = g.real->iVersion < 2 ? g.real->iVersion : 2;
  g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g.real->szOsFile;
  g_vfs.mxPathname = g.real->mxPathname;
  g_vfs.zName = "mm-fault";
  g_vfs.xOpen = v_open;
  g_vfs.xDelete = v_delete;
  g_vfs.xAccess = v_access;
  g_vfs.xFullPathname = v_full;
  g_vfs.xDlOpen = v_dlopen;
  g_vfs.xDlError = v_dlerror;
  g_vfs.xDlSym = v_dlsym;
  g_vfs.xDlClose = v_dlclose;
  g_vfs.xRandomness = v_random;
  g_vfs.xSleep = v_sleep;
  g_vfs.xCurrentTime = v_time;
  g_vfs.xGetLastError = v_last_error;
  if (g_vfs.iVersion >= 2) g_vfs.xCurrentTimeInt64 = v_time64;
  sqlite3_vfs_register(&g_vfs, 1);
  std::atexit(write_counts);
}

}  // namespace
