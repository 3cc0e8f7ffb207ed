#include "http/file_server.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "http/conditional.h"

namespace paddock::http {
namespace {

namespace fs = std::filesystem;

// Reads a Response's file slice back, so tests check bytes, not only headers.
std::string BodyOf(const Response& r) {
  if (!r.file) return r.body;
  std::string out(r.file->length, '\0');
  ssize_t n =
      ::pread(r.file->file->fd(), out.data(), out.size(), static_cast<off_t>(r.file->offset));
  EXPECT_EQ(n, static_cast<ssize_t>(out.size()));
  return out;
}

class FileServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-http-fs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    fs::create_directories(root_ / "sub");
    for (int i = 0; i < 1000; ++i) content_.push_back(static_cast<char>('a' + i % 26));
    Write(root_ / "vmlinuz", content_);
    Write(root_ / "sub" / "boot.ipxe", "#!ipxe\n");
    Write(base_ / "secret", "top secret");
    fs::create_symlink(base_ / "secret", root_ / "link-out");
    fs::create_symlink("../../secret", root_ / "sub" / "rel-out");
    fs::create_symlink("vmlinuz", root_ / "link-in");
    fs::create_symlink(base_, root_ / "dir-out");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& p, const std::string& data) {
    std::ofstream(p, std::ios::binary) << data;
  }

  Response Get(std::string_view rel, Headers h = {}, std::string method = "GET") {
    auto req = BuildRequest(std::move(method), "/", 11, std::move(h), "").value();
    return ServeFile(root_.string(), rel, req);
  }

  fs::path base_, root_;
  std::string content_;
};

TEST_F(FileServerTest, ServesWholeFileWithValidators) {
  Response r = Get("vmlinuz");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.ContentLength(), 1000u);
  EXPECT_EQ(BodyOf(r), content_);
  EXPECT_EQ(r.headers.Get("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/octet-stream");
  auto etag = r.headers.Get("ETag");
  ASSERT_TRUE(etag);
  EXPECT_EQ(etag->front(), '"');
  EXPECT_TRUE(r.headers.Has("Last-Modified"));
  EXPECT_EQ(Get("sub/boot.ipxe").headers.Get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(BodyOf(Get("sub//./boot.ipxe")), "#!ipxe\n");
}

TEST_F(FileServerTest, HeadHasSameHeaders) {
  Response get = Get("vmlinuz");
  Response head = Get("vmlinuz", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.ContentLength(), get.ContentLength());
  EXPECT_EQ(head.headers.Get("ETag"), get.headers.Get("ETag"));
  // Range is defined for GET only (RFC 9110 §14.2).
  Headers h;
  h.Add("Range", "bytes=0-9");
  EXPECT_EQ(Get("vmlinuz", h, "HEAD").status, 200);
}

TEST_F(FileServerTest, OtherMethodsAre405) {
  Response r = Get("vmlinuz", {}, "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow"), "GET, HEAD");
}

TEST_F(FileServerTest, Ranges) {
  Headers h;
  h.Add("Range", "bytes=0-99");
  Response r = Get("vmlinuz", h);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes 0-99/1000");
  EXPECT_EQ(BodyOf(r), content_.substr(0, 100));

  h.Set("Range", "bytes=-100");
  r = Get("vmlinuz", h);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes 900-999/1000");
  EXPECT_EQ(BodyOf(r), content_.substr(900));

  h.Set("Range", "bytes=100-");
  r = Get("vmlinuz", h);
  EXPECT_EQ(BodyOf(r), content_.substr(100));

  h.Set("Range", "bytes=1000-");
  r = Get("vmlinuz", h);
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers.Get("Content-Range"), "bytes */1000");
  EXPECT_FALSE(r.file.has_value());

  h.Set("Range", "bytes=0-1,5-6");
  r = Get("vmlinuz", h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(BodyOf(r), content_);
}

TEST_F(FileServerTest, IfRange) {
  std::string etag(Get("vmlinuz").headers.Get("ETag").value());
  Headers h;
  h.Add("Range", "bytes=0-9");
  h.Add("If-Range", etag);
  EXPECT_EQ(Get("vmlinuz", h).status, 206);
  h.Set("If-Range", "\"stale\"");
  EXPECT_EQ(Get("vmlinuz", h).status, 200);
  h.Set("If-Range", "W/" + etag);  // weak tags never match If-Range
  EXPECT_EQ(Get("vmlinuz", h).status, 200);
  std::string lm(Get("vmlinuz").headers.Get("Last-Modified").value());
  h.Set("If-Range", lm);
  EXPECT_EQ(Get("vmlinuz", h).status, 206);
}

TEST_F(FileServerTest, IfNoneMatchGives304) {
  Response first = Get("vmlinuz");
  std::string etag(first.headers.Get("ETag").value());
  Headers h;
  h.Add("If-None-Match", etag);
  Response r = Get("vmlinuz", h);
  EXPECT_EQ(r.status, 304);
  EXPECT_FALSE(r.file.has_value());
  EXPECT_EQ(r.headers.Get("ETag"), etag);
  h.Set("If-None-Match", "\"other\"");
  EXPECT_EQ(Get("vmlinuz", h).status, 200);

  // A new version of the file gets a new ETag, so the old one no longer matches.
  struct timeval times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimes((root_ / "vmlinuz").c_str(), times), 0);
  h.Set("If-None-Match", etag);
  Response changed = Get("vmlinuz", h);
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.headers.Get("ETag"), etag);
}

TEST_F(FileServerTest, IfModifiedSince) {
  struct timeval times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimes((root_ / "vmlinuz").c_str(), times), 0);
  Headers h;
  h.Add("If-Modified-Since", FormatHttpDate(1600000000));
  EXPECT_EQ(Get("vmlinuz", h).status, 304);
  h.Set("If-Modified-Since", FormatHttpDate(1599999999));
  EXPECT_EQ(Get("vmlinuz", h).status, 200);
  h.Set("If-Modified-Since", "garbage");
  EXPECT_EQ(Get("vmlinuz", h).status, 200);
  // If-None-Match takes precedence (RFC 9110 §13.2.2): a non-matching tag means 200.
  h.Set("If-Modified-Since", FormatHttpDate(1700000000));
  h.Add("If-None-Match", "\"nope\"");
  EXPECT_EQ(Get("vmlinuz", h).status, 200);
}

TEST_F(FileServerTest, RefusesEscapes) {
  EXPECT_EQ(Get("../secret").status, 403);
  EXPECT_EQ(Get("sub/../../secret").status, 403);
  EXPECT_EQ(Get("sub/..").status, 403);
  EXPECT_EQ(Get("/etc/passwd").status, 403);
  EXPECT_EQ(Get(std::string_view("vmlinuz\0x", 9)).status, 403);
  EXPECT_EQ(Get("..\\secret").status, 403);
  // Symlinks resolving outside the root, absolute or relative, file or directory.
  EXPECT_EQ(Get("link-out").status, 403);
  EXPECT_EQ(Get("sub/rel-out").status, 403);
  EXPECT_EQ(Get("dir-out/secret").status, 403);
  // A symlink inside the root is fine.
  EXPECT_EQ(BodyOf(Get("link-in")), content_);
}

TEST_F(FileServerTest, MissingAndNonRegularAre404) {
  EXPECT_EQ(Get("nope").status, 404);
  EXPECT_EQ(Get("sub").status, 404);
  EXPECT_EQ(Get("").status, 404);
  EXPECT_EQ(Get("sub/boot.ipxe/x").status, 404);
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(Get("fifo").status, 404);  // and it did not block on open
  auto req = BuildRequest("GET", "/", 11, {}, "").value();
  EXPECT_EQ(ServeFile((base_ / "missing-root").string(), "x", req).status, 404);
}

TEST_F(FileServerTest, OpenFileBody) {
  auto body = OpenFileBody((root_ / "vmlinuz").string());
  ASSERT_TRUE(body);
  EXPECT_EQ(body->offset, 0u);
  EXPECT_EQ(body->length, 1000u);
  Response r;
  r.file = *body;
  EXPECT_EQ(BodyOf(r), content_);
  EXPECT_EQ(OpenFileBody((root_ / "nope").string()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(OpenFileBody((root_ / "sub").string()).error().code, ErrorCode::kInvalidArgument);
}

TEST(CheckRelativePathTest, Cases) {
  EXPECT_TRUE(CheckRelativePath("a/b/c"));
  EXPECT_TRUE(CheckRelativePath("a/./b//c"));
  EXPECT_TRUE(CheckRelativePath("..a/b.."));
  EXPECT_TRUE(CheckRelativePath("%2e%2e"));  // already decoded: a literal file name
  EXPECT_FALSE(CheckRelativePath(".."));
  EXPECT_FALSE(CheckRelativePath("a/../b"));
  EXPECT_FALSE(CheckRelativePath("a/.."));
  EXPECT_FALSE(CheckRelativePath("/a"));
  EXPECT_FALSE(CheckRelativePath(std::string_view("a\0b", 3)));
}

TEST(IsUnderRootTest, Cases) {
  EXPECT_TRUE(IsUnderRoot("/srv/a", "/srv/a"));
  EXPECT_TRUE(IsUnderRoot("/srv/a", "/srv/a/b"));
  EXPECT_FALSE(IsUnderRoot("/srv/a", "/srv/ab"));
  EXPECT_FALSE(IsUnderRoot("/srv/a", "/srv"));
  EXPECT_TRUE(IsUnderRoot("/", "/etc"));
}

TEST(ContentTypeTest, ByExtension) {
  EXPECT_EQ(ContentTypeFor("a/initrd.GZ"), "application/gzip");
  EXPECT_EQ(ContentTypeFor("x.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("vmlinuz"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("dir.d/vmlinuz"), "application/octet-stream");
}

TEST(FileEtagTest, DependsOnEveryInput) {
  std::string e = FileEtag(1, 2, 3);
  EXPECT_NE(e, FileEtag(9, 2, 3));
  EXPECT_NE(e, FileEtag(1, 9, 3));
  EXPECT_NE(e, FileEtag(1, 2, 9));
  EXPECT_TRUE(StrongEtagEquals(e, e));
}

}  // namespace
}  // namespace paddock::http
