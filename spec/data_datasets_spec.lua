-- Built-in datasets (lua/data/datasets.lua): the IDX reader (plain and gzipped, strict
-- header checks), MNIST/FashionMNIST (on generated files, and on the real Fashion-MNIST
-- when installed, checked against numbers numpy read from the same files), CIFAR-10/100
-- on generated .bin files, ImageFolder on a generated tree, CSVDataset, transforms.
local torch = require 'torch'
local data = require 'data'
local H = require 'spec.support.helpers'
local D = data.datasets

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute('mkdir -p ' .. tmp))

local function write(path, s)
  local dir = path:match('^(.*)/[^/]*$')
  if dir then assert(os.execute("mkdir -p '" .. dir .. "'")) end
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
  return path
end

local function bytes(t) -- a table of byte values -> string
  local parts = {}
  for i = 1, #t, 4096 do parts[#parts + 1] = string.char(table.unpack(t, i, math.min(i + 4095, #t))) end
  return table.concat(parts)
end

-- an IDX file: type code, sizes, payload bytes
local function idx(code, sizes, payload)
  local h = { string.char(0, 0, code, #sizes) }
  for _, s in ipairs(sizes) do h[#h + 1] = string.pack('>I4', s) end
  return table.concat(h) .. payload
end

-- a gzip member of s made of deflate stored blocks (no compression), with the optional
-- header fields set so the header parser walks all of them
local function gzip_stored(s, opts)
  opts = opts or {}
  local flg = 8 + (opts.extra and 4 or 0) + (opts.comment and 16 or 0) + (opts.hcrc and 2 or 0)
  local out = { '\x1f\x8b\x08', string.char(flg), '\0\0\0\0', '\0\3' }
  if opts.extra then out[#out + 1] = string.pack('<I2', 4) .. 'AB\0\0' end
  out[#out + 1] = 'file.idx\0'
  if opts.comment then out[#out + 1] = 'a comment\0' end
  if opts.hcrc then out[#out + 1] = '\0\0' end
  local pos = 1
  repeat
    local chunk = s:sub(pos, pos + 65534)
    pos = pos + #chunk
    local final = pos > #s and 1 or 0
    out[#out + 1] = string.char(final) .. string.pack('<I2<I2', #chunk, (~#chunk) & 0xffff) .. chunk
  until pos > #s
  out[#out + 1] = string.pack('<I4<I4', torch._crc32(s), #s & 0xffffffff)
  return table.concat(out)
end

local have_gzip = os.execute('command -v gzip > /dev/null 2>&1')

-- small MNIST-format data: n images of h×w whose pixel (k, r, c) is (k*7 + r*w + c) % 256
local function mnist_bytes(n, h, w, labels)
  local px = {}
  for k = 0, n - 1 do
    for r = 0, h - 1 do
      for c = 0, w - 1 do px[#px + 1] = (k * 7 + r * w + c) % 256 end
    end
  end
  return idx(0x08, { n, h, w }, bytes(px)), idx(0x08, { n }, bytes(labels))
end

teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

describe('data.datasets.read_idx', function()
  local payload = bytes { 1, 2, 3, 4, 5, 6, 250, 251, 252, 253, 254, 255 }

  it('reads a uint8 IDX file into a tensor of its sizes', function()
    local p = write(tmp .. '/a.idx', idx(0x08, { 2, 2, 3 }, payload))
    local t = D.read_idx(p)
    assert.are.equal('uint8', t.dtype)
    assert.are.same({ 2, 2, 3 }, t:size())
    H.assert_close(t, { { { 1, 2, 3 }, { 4, 5, 6 } }, { { 250, 251, 252 }, { 253, 254, 255 } } })
  end)

  it('reads gzipped files (header fields FNAME, FEXTRA, FCOMMENT, FHCRC)', function()
    local raw = idx(0x08, { 2, 2, 3 }, payload)
    for _, o in ipairs { {}, { extra = true, comment = true, hcrc = true } } do
      local t = D.read_idx(write(tmp .. '/a.idx.gz', gzip_stored(raw, o)))
      H.assert_close(t, D.read_idx(write(tmp .. '/a.idx', raw)))
    end
    -- several stored blocks (> 64 KiB)
    local big = {}
    for i = 1, 3 * 70000 do big[i] = i % 251 end
    local t = D.read_idx(write(tmp .. '/big.gz', gzip_stored(idx(0x08, { 3, 70000 }, bytes(big)))))
    assert.are.same({ 3, 70000 }, t:size())
    assert.are.equal(69999 % 251, t[1][69999])
    assert.are.equal(210000 % 251, t[3][70000])
  end)

  it('reads files compressed by gzip(1)', function()
    if not have_gzip then return pending('gzip(1) not installed') end
    local px = {}
    for i = 1, 5 * 28 * 28 do px[i] = (i * 13) % 256 end
    local p = write(tmp .. '/z.idx', idx(0x08, { 5, 28, 28 }, bytes(px)))
    assert(os.execute(("gzip -c '%s' > '%s.gz'"):format(p, p)))
    H.assert_close(D.read_idx(p .. '.gz'), D.read_idx(p))
  end)

  it('reads the multi-byte types big-endian', function()
    local t = D.read_idx(write(tmp .. '/i.idx', idx(0x0C, { 3 }, string.pack('>i4>i4>i4', 1, -2, 70000))))
    assert.are.equal('int32', t.dtype)
    H.assert_close(t, { 1, -2, 70000 })
    t = D.read_idx(write(tmp .. '/f.idx', idx(0x0D, { 2 }, string.pack('>f>f', 1.5, -0.25))))
    assert.are.equal('float32', t.dtype)
    H.assert_close(t, { 1.5, -0.25 })
    t = D.read_idx(write(tmp .. '/s.idx', idx(0x0B, { 2 }, string.pack('>i2>i2', -300, 5))))
    H.assert_close(t, { -300, 5 })
  end)

  it('rejects bad magic, truncated data, extra bytes and wrong shapes', function()
    local good = idx(0x08, { 2, 2, 3 }, payload)
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', '\1\0\8\3' .. good:sub(5))) end, 'bad magic')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', '\0\0\7\3' .. good:sub(5))) end, 'bad magic')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', '\0\0')) end, 'truncated')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', good:sub(1, 10))) end, 'truncated header')
    local err = H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', good:sub(1, -2))) end, 'truncated')
    assert.truthy(err:find('need 28 bytes, the file has 27', 1, true), err)
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', good .. 'x')) end, '1 bytes after the data')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', idx(0x08, { 4000000, 4000000, 4000000 }, ''))) end,
      'truncated')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', good), { ndim = 1 }) end,
      'expected 1 dimensions, the header says 3')
    H.assert_error(function() D.read_idx(write(tmp .. '/b.idx', idx(0x0C, { 1 }, '\0\0\0\1')), { dtype = 'uint8' }) end,
      'expected uint8 data, the header says int32')
    H.assert_error(function() D.read_idx(tmp .. '/nonexistent.idx') end, 'nonexistent.idx')
  end)

  it('rejects corrupt and truncated gzip files', function()
    local gz = gzip_stored(idx(0x08, { 2, 2, 3 }, payload))
    local bad = gz:sub(1, -9) .. string.pack('<I4', 12345) .. gz:sub(-4)
    H.assert_error(function() D.read_idx(write(tmp .. '/c.gz', bad)) end, 'CRC-32 mismatch')
    H.assert_error(function() D.read_idx(write(tmp .. '/c.gz', gz:sub(1, 30))) end, 'c.gz')
    H.assert_error(function() D.read_idx(write(tmp .. '/c.gz', gz:sub(1, 12))) end, 'truncated')
    H.assert_error(function() D.read_idx(write(tmp .. '/c.gz', gz .. gz)) end, 'single-member')
    H.assert_error(function() D.read_idx(write(tmp .. '/c.gz', '\x1f\x8b\x07' .. gz:sub(4))) end,
      'compression method 7')
  end)
end)

describe('data.datasets.MNIST on generated files', function()
  local root = tmp .. '/mnist'
  local labels = { 5, 0, 4, 1, 9 }
  setup(function()
    local imgs, labs = mnist_bytes(5, 28, 28, labels)
    -- torchvision's layout, gzipped
    write(root .. '/MNIST/raw/train-images-idx3-ubyte.gz', gzip_stored(imgs))
    write(root .. '/MNIST/raw/train-labels-idx1-ubyte.gz', gzip_stored(labs))
    local timgs, tlabs = mnist_bytes(3, 28, 28, { 7, 2, 1 })
    -- the test split uncompressed, in root itself
    write(root .. '/t10k-images-idx3-ubyte', timgs)
    write(root .. '/t10k-labels-idx1-ubyte', tlabs)
  end)

  it('loads both splits with 1-based labels and uint8 1x28x28 images', function()
    local ds = D.MNIST { root = root }
    assert.are.equal(5, #ds)
    assert.are.equal('data.datasets.MNIST', torch.type(ds))
    assert.truthy(torch.isTypeOf(ds, 'data.Dataset'))
    for i, l in ipairs(labels) do
      local s = ds[i]
      assert.are.equal(l + 1, s[2])
      assert.are.equal('integer', math.type(s[2]))
    end
    local img = ds[3][1]
    assert.are.same({ 1, 28, 28 }, img:size())
    assert.are.equal('uint8', img.dtype)
    assert.are.equal((2 * 7 + 4 * 28 + 5) % 256, img[1][5][6]) -- image 3, row 5, column 6
    assert.are.same({ 5, 28, 28 }, ds.data:size())
    H.assert_close(ds.targets, { 6, 1, 5, 2, 10 })
    assert.are.equal('int64', ds.targets.dtype)
    assert.are.equal(10, #ds.classes)
    assert.are.equal(3, ds.class_to_idx['2 - two'])
    local te = D.MNIST(root, { train = false })
    assert.are.equal(3, #te)
    assert.are.equal(8, te[1][2])
    assert.truthy(tostring(te):find('Split: Test', 1, true))
  end)

  it('returns a copy: changing a sample leaves the dataset alone', function()
    local ds = D.MNIST { root = root }
    local img = ds[1][1]
    img:fill_(0)
    assert.are_not.equal(0, ds[1][1][1][1][2])
  end)

  it('applies transform and target_transform (functions and callable tables)', function()
    local called = 0
    local tf = setmetatable({}, { __call = function(_, x) called = called + 1; return x:to('float32'):div(255) end })
    local ds = D.MNIST { root = root, transform = tf, target_transform = function(y) return y * 10 end }
    local s = ds[2]
    assert.are.equal('float32', s[1].dtype)
    H.assert_close(s[1][1][1]:narrow(1, 1, 3), { 7 / 255, 8 / 255, 9 / 255 })
    assert.are.equal(10, s[2])
    assert.are.equal(1, called)
  end)

  it('checks indices, options and the files', function()
    local ds = D.MNIST { root = root }
    H.assert_error(function() return ds[6] end, 'index 6 out of range (the dataset has 5 samples')
    H.assert_error(function() return ds[0] end, 'out of range')
    H.assert_error(function() return ds:get(1.5) end, 'index must be an integer')
    H.assert_error(function() D.MNIST { root = root, trian = true } end, "unknown option 'trian' (did you mean 'train'?)")
    H.assert_error(function() D.MNIST { root = root, train = 1 } end, 'train must be a boolean')
    H.assert_error(function() D.MNIST { root = root, transform = 3 } end, 'transform must be a function')
    H.assert_error(function() D.MNIST {} end, 'no root given')
    local err = H.assert_error(function() D.MNIST { root = tmp .. '/nowhere' } end, 'train-images-idx3-ubyte not found')
    assert.truthy(err:find(tmp .. '/nowhere/MNIST/raw/train-images-idx3-ubyte.gz', 1, true), err)
    assert.truthy(err:find('pass {root=', 1, true), err)
    -- labels out of range, and counts that differ
    local imgs, labs = mnist_bytes(2, 28, 28, { 3, 10 })
    write(tmp .. '/m2/train-images-idx3-ubyte', imgs)
    write(tmp .. '/m2/train-labels-idx1-ubyte', labs)
    H.assert_error(function() D.MNIST { root = tmp .. '/m2' } end, 'label 10 outside 0..9')
    write(tmp .. '/m2/train-labels-idx1-ubyte', idx(0x08, { 3 }, '\1\2\3'))
    H.assert_error(function() D.MNIST { root = tmp .. '/m2' } end, 'holds 2 images but')
    write(tmp .. '/m2/train-labels-idx1-ubyte', idx(0x08, { 2, 1 }, '\1\2'))
    H.assert_error(function() D.MNIST { root = tmp .. '/m2' } end, 'expected 1 dimensions')
  end)

  it('FashionMNIST says how to install the files when they are missing', function()
    local err = H.assert_error(function() D.FashionMNIST { root = tmp .. '/nowhere' } end, 'not found')
    assert.truthy(err:find('dataset-fashion-mnist', 1, true) and err:find('install-deps', 1, true), err)
    assert.truthy(err:find(tmp .. '/nowhere/FashionMNIST/raw/', 1, true), err)
    local ds = D.FashionMNIST { root = root, train = false } -- any IDX folder works
    assert.are.equal('Ankle boot', ds.classes[10])
    assert.are.equal('data.datasets.FashionMNIST', torch.type(ds))
    assert.truthy(torch.isTypeOf(ds, 'data.datasets.MNIST'))
  end)
end)

local FMNIST = '/usr/share/datasets/fashion-mnist'
local have_fmnist = io.open(FMNIST .. '/train-images-idx3-ubyte.gz', 'rb') ~= nil

describe('data.datasets.FashionMNIST (the installed files)', function()
  if not have_fmnist then
    it('is installed', function() pending(FMNIST .. ' missing: scripts/install-deps installs it') end)
    return
  end
  local train, test, secs
  setup(function()
    local t0 = os.clock()
    train = D.FashionMNIST()
    secs = os.clock() - t0
    test = D.FashionMNIST { train = false }
  end)

  it('has 60000 + 10000 samples with the labels numpy reads (+1)', function()
    assert.are.equal(60000, #train)
    assert.are.equal(10000, #test)
    -- numpy on the same files: train labels [9 0 0 3 0 2 7 2 5 5], test [9 2 1 1 6 1 4 6 5 7]
    local want = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }
    for i, l in ipairs(want) do assert.are.equal(l + 1, train[i][2]) end
    want = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 }
    for i, l in ipairs(want) do assert.are.equal(l + 1, test[i][2]) end
    assert.are.equal(1, train.targets:min():item())
    assert.are.equal(10, train.targets:max():item())
    -- 6000 of each class
    local counts = torch.zeros(10, { dtype = 'int64' }):index_add_(1, train.targets,
      torch.ones(60000, { dtype = 'int64' }))
    H.assert_close(counts, { 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000 })
  end)

  it('has the pixels numpy reads', function()
    assert.are.equal(76247, train[1][1]:to('int64'):sum():item())
    assert.are.equal(16684, train[60000][1]:to('int64'):sum():item())
    assert.are.equal(3431114169, train.data:to('int64'):sum():item())
  end)

  it('loads 60000 images quickly', function()
    print(('\n  FashionMNIST train split loaded in %.2f s (CPU time)'):format(secs))
    assert.truthy(secs < 3, ('took %.2f s'):format(secs))
  end)
end)

-- CIFAR records: label byte(s) then 3072 pixels; pixel j of record k = (k*31 + j) % 256
local function cifar_bytes(label_rows, k0)
  local parts = {}
  for k, lab in ipairs(label_rows) do
    local px = {}
    for j = 0, 3071 do px[j + 1] = ((k0 + k - 1) * 31 + j) % 256 end
    parts[#parts + 1] = bytes(lab) .. bytes(px)
  end
  return table.concat(parts)
end

describe('data.datasets.CIFAR10 / CIFAR100 on generated files', function()
  local root = tmp .. '/cifar'
  setup(function()
    local d = root .. '/cifar-10-batches-bin/'
    for b = 1, 5 do write(d .. 'data_batch_' .. b .. '.bin', cifar_bytes({ { b - 1 }, { 9 } }, 2 * (b - 1))) end
    write(d .. 'test_batch.bin', cifar_bytes({ { 3 }, { 4 }, { 0 } }, 100))
    local e = root .. '/cifar-100-binary/'
    write(e .. 'train.bin', cifar_bytes({ { 19, 99 }, { 0, 0 }, { 4, 57 } }, 0))
    write(e .. 'test.bin', cifar_bytes({ { 1, 2 } }, 7))
  end)

  it('CIFAR10 reads the five training batches in order, CHW uint8 images, labels 1..10', function()
    local ds = D.CIFAR10 { root = root }
    assert.are.equal(10, #ds)
    local labels = {}
    for i = 1, #ds do labels[i] = ds[i][2] end
    assert.are.same({ 1, 10, 2, 10, 3, 10, 4, 10, 5, 10 }, labels)
    local img = ds[4][1]
    assert.are.same({ 3, 32, 32 }, img:size())
    assert.are.equal('uint8', img.dtype)
    -- record 4 (k = 3): channel 2, row 5, column 7 is pixel j = 1024 + 4*32 + 6
    assert.are.equal((3 * 31 + 1024 + 4 * 32 + 6) % 256, img[2][5][7])
    assert.are.same({ 10, 3, 32, 32 }, ds.data:size())
    assert.are.equal('truck', ds.classes[10])
    assert.are.equal(2, ds.class_to_idx.automobile)
    local te = D.CIFAR10(root .. '/cifar-10-batches-bin', { train = false }) -- the folder itself
    assert.are.equal(3, #te)
    assert.are.same({ 4, 5, 1 }, { te[1][2], te[2][2], te[3][2] })
  end)

  it('CIFAR10 reads class names from batches.meta.txt', function()
    local d = tmp .. '/cifar_meta'
    write(d .. '/test_batch.bin', cifar_bytes({ { 1 } }, 0))
    write(d .. '/batches.meta.txt', 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n')
    local ds = D.CIFAR10 { root = d, train = false, transform = function(x) return x:narrow(1, 1, 1) end }
    assert.are.equal('b', ds.classes[2])
    assert.are.same({ 1, 32, 32 }, ds[1][1]:size())
  end)

  it('CIFAR100 gives fine or coarse labels', function()
    local fine = D.CIFAR100 { root = root }
    assert.are.same({ 100, 1, 58 }, { fine[1][2], fine[2][2], fine[3][2] })
    assert.are.equal(100, #fine.classes)
    assert.are.equal('worm', fine.classes[100])
    local coarse = D.CIFAR100 { root = root, label_mode = 'coarse' }
    assert.are.same({ 20, 1, 5 }, { coarse[1][2], coarse[2][2], coarse[3][2] })
    assert.are.equal(20, #coarse.classes)
    assert.are.equal('vehicles_2', coarse.classes[20])
    assert.are.equal((2 * 31 + 5) % 256, coarse[3][1][1][1][6])
    assert.are.equal(1, #D.CIFAR100 { root = root, train = false })
    H.assert_error(function() D.CIFAR100 { root = root, label_mode = 'medium' } end, "label_mode must be 'fine' or 'coarse'")
    H.assert_error(function() D.CIFAR10 { root = root, label_mode = 'fine' } end, "label_mode is CIFAR100's option")
  end)

  it('rejects files of the wrong length, labels out of range, and says where to get missing files', function()
    local d = tmp .. '/cifar_bad'
    write(d .. '/test_batch.bin', cifar_bytes({ { 1 } }, 0) .. 'x')
    H.assert_error(function() D.CIFAR10 { root = d, train = false } end, 'not a whole number of 3073-byte records')
    write(d .. '/test_batch.bin', cifar_bytes({ { 1 }, { 10 } }, 0))
    H.assert_error(function() D.CIFAR10 { root = d, train = false } end, 'label 10 outside 0..9')
    write(d .. '/test.bin', cifar_bytes({ { 20, 1 } }, 0):sub(1, 3074))
    H.assert_error(function() D.CIFAR100 { root = d, train = false, label_mode = 'coarse' } end, 'label 20 outside 0..19')
    local err = H.assert_error(function() D.CIFAR10 { root = d } end, 'data_batch_1.bin not found')
    assert.truthy(err:find(d .. '/cifar-10-batches-bin/data_batch_1.bin', 1, true), err)
    assert.truthy(err:find('cifar-10-binary.tar.gz', 1, true), err)
    H.assert_error(function() D.CIFAR100 {} end, 'cifar-100-binary.tar.gz')
  end)
end)

describe('data.datasets.ImageFolder', function()
  local root = tmp .. '/folder'
  local function read_bytes(path)
    local f = assert(io.open(path, 'rb'))
    local s = f:read('a')
    f:close()
    return s
  end
  setup(function()
    write(root .. '/dog/b.png', 'dog-b')
    write(root .. '/dog/a.PNG', 'dog-a')
    write(root .. '/cat/z.png', 'cat-z')
    write(root .. '/cat/sub/c.png', 'cat-sub-c')
    write(root .. '/cat/notes.txt', 'not an image')
    write(root .. '/bird/x.jpg', 'bird-x')
    write(root .. '/bird/y.png', 'bird-y')
    write(root .. '/README', 'a file at the top is not a class')
  end)

  it('torch._listdir lists a folder sorted, with kinds', function()
    local names, kinds = torch._listdir(root)
    assert.are.same({ 'README', 'bird', 'cat', 'dog' }, names)
    assert.are.same({ 'file', 'directory', 'directory', 'directory' }, kinds)
    local none, msg = torch._listdir(root .. '/README')
    assert.is_nil(none)
    assert.truthy(msg:find('Not a directory', 1, true), msg)
  end)

  it("orders nested folders as torchvision's os.walk + sorted does", function()
    local r = tmp .. '/walk'
    write(r .. '/c/a/x.png', 'a/x')
    write(r .. '/c/a b/y.png', 'a b/y')
    write(r .. '/c/a/z/w.png', 'a/z/w')
    write(r .. '/c/top.png', 'top')
    local ds = D.ImageFolder { root = r, loader = function(p) return p:sub(#r + 4) end }
    local got = {}
    for i = 1, #ds do got[i] = ds[i][1] end
    -- Python: ['top.png', 'a/x.png', 'a b/y.png', 'a/z/w.png'] (folder paths sorted: ' ' < '/')
    assert.are.same({ 'top.png', 'a/x.png', 'a b/y.png', 'a/z/w.png' }, got)
  end)

  it('labels sorted class folders 1..K and lists their files sorted', function()
    local ds = D.ImageFolder { root = root, loader = read_bytes }
    assert.are.same({ 'bird', 'cat', 'dog' }, ds.classes)
    assert.are.same({ bird = 1, cat = 2, dog = 3 }, ds.class_to_idx)
    assert.are.equal(5, #ds)
    local got = {}
    for i = 1, #ds do got[i] = ds[i] end
    assert.are.same({ { 'bird-y', 1 }, { 'cat-z', 2 }, { 'cat-sub-c', 2 }, { 'dog-a', 3 }, { 'dog-b', 3 } }, got)
    assert.are.same({ root .. '/cat/z.png', 2 }, ds.samples[2])
    assert.are.same({ 1, 2, 2, 3, 3 }, ds.targets)
  end)

  it('applies transforms; takes extensions and is_valid_file', function()
    local ds = D.ImageFolder(root, { loader = read_bytes, transform = string.upper,
      target_transform = function(y) return -y end, extensions = { '.png', '.jpg', '.txt' } })
    assert.are.equal(7, #ds)
    assert.are.same({ 'BIRD-X', -1 }, ds[1])
    assert.are.same({ 'NOT AN IMAGE', -2 }, ds[3])
    ds = D.ImageFolder { root = root, loader = read_bytes, is_valid_file = function(p) return p:find('/a%.') ~= nil end,
      allow_empty = true }
    assert.are.equal(1, #ds)
    assert.are.same({ 'dog-a', 3 }, ds[1])
  end)

  it('errors on empty classes, missing or empty roots, and bad options', function()
    H.assert_error(function() D.ImageFolder { root = root, loader = read_bytes, extensions = '.txt' } end,
      'no files with extension .txt in the class folders bird, dog')
    local err = H.assert_error(function() D.ImageFolder { root = tmp .. '/nofolder' } end, 'cannot read the folder')
    assert.truthy(err:find('No such file', 1, true), err)
    write(tmp .. '/flat/a.png', 'x')
    H.assert_error(function() D.ImageFolder { root = tmp .. '/flat' } end, 'no class folders')
    H.assert_error(function() D.ImageFolder { root = root, loader = 'read' } end, 'loader must be a function')
    H.assert_error(function() D.ImageFolder {} end, 'no root given')
  end)

  it('loads PNGs with image.load by default (uint8 3xHxW)', function()
    local ok, image = pcall(require, 'image')
    if not ok then return pending('the image package is not available') end
    local r = tmp .. '/pngs'
    assert(os.execute("mkdir -p '" .. r .. "/red' '" .. r .. "/gray'"))
    local red = torch.zeros(3, 4, 5)
    red[1]:fill_(1)
    image.save(r .. '/red/1.png', red)
    image.save(r .. '/gray/1.png', torch.full({ 1, 4, 5 }, 0.5))
    local ds = D.ImageFolder { root = r }
    local img, label = ds[2][1], ds[2][2]
    assert.are.equal(2, label)
    assert.are.same({ 3, 4, 5 }, img:size())
    assert.are.equal('uint8', img.dtype)
    assert.are.same({ 255, 0, 0 }, { img[1][1][1], img[2][1][1], img[3][1][1] })
    assert.are.same({ 3, 4, 5 }, ds[1][1]:size()) -- gray converted to RGB
  end)
end)

describe('data.datasets.CSVDataset', function()
  local diabetes = '-0.29,0.49,0.18,-0.29,0,0.00,-0.53,-0.03,0\n'
    .. '-0.88,-0.15,0.08,-0.41,0,-0.21,-0.77,-0.67,1\n'
    .. '-0.06,0.84,0.05,0,0,-0.31,-0.49,-0.63,0\n'

  it('reads numeric columns, the last one as the label (no header)', function()
    local ds = D.CSVDataset { path = write(tmp .. '/diabetes.csv', diabetes) }
    assert.are.equal(3, #ds)
    local s = ds[2]
    assert.are.same({ 8 }, s[1]:size())
    assert.are.equal('float32', s[1].dtype)
    H.assert_close(s[1], { -0.88, -0.15, 0.08, -0.41, 0, -0.21, -0.77, -0.67 })
    assert.are.equal(0, s[2]:dim())
    assert.are.equal('float32', s[2].dtype)
    assert.are.equal(1, s[2]:item())
    assert.are.same({ 3, 8 }, ds.features:size())
    H.assert_close(ds.labels, { 0, 1, 0 })
    assert.is_nil(ds.columns)
  end)

  it('detects or takes a header; label_column by name, number or from the end', function()
    local text = 'a, b ,"label",c\r\n1,2,3,4\r\n\r\n5,6,7,8\r\n'
    local p = write(tmp .. '/h.csv', text)
    local ds = D.CSVDataset(p, { label_column = 'label', label_dtype = 'int64' })
    assert.are.same({ 'a', 'b', 'label', 'c' }, ds.columns)
    assert.are.same({ 'a', 'b', 'c' }, ds.feature_names)
    assert.are.equal(2, #ds)
    H.assert_close(ds[2][1], { 5, 6, 8 })
    assert.are.equal('int64', ds[2][2].dtype)
    assert.are.equal(7, ds[2][2]:item())
    ds = D.CSVDataset { path = p, header = true, label_column = 1, dtype = 'float64' }
    H.assert_close(ds[1][1], { 2, 3, 4 })
    assert.are.equal('float64', ds[1][1].dtype)
    ds = D.CSVDataset { path = write(tmp .. '/n.csv', '1;2;3\n4;5;6\n'), delimiter = ';', label_column = -2 }
    H.assert_close(ds[2][1], { 4, 6 })
    assert.are.equal(5, ds[2][2]:item())
    ds = D.CSVDataset { path = tmp .. '/n.csv', delimiter = ';', label_column = false }
    assert.are.equal(1, #ds[1])
    H.assert_close(ds[1][1], { 1, 2, 3 })
    -- header=false with a first line of numbers keeps that line as data
    ds = D.CSVDataset { path = write(tmp .. '/d.csv', diabetes), header = false }
    assert.are.equal(3, #ds)
  end)

  it('names the line and column of a bad value', function()
    local p = write(tmp .. '/bad.csv', 'x,y,label\n1,2,0\n3,oops,1\n')
    H.assert_error(function() D.CSVDataset { path = p } end, "bad.csv line 3, column 2 ('y'): 'oops' is not a number")
    p = write(tmp .. '/bad2.csv', '1,2,0\n1,2,3,4\n')
    H.assert_error(function() D.CSVDataset { path = p } end, 'bad2.csv line 2 has 4 columns, expected 3')
    p = write(tmp .. '/bad3.csv', '1,2,0\n1,0x10,1\n')
    H.assert_error(function() D.CSVDataset { path = p } end, "line 2, column 2: '0x10' is not a number")
    p = write(tmp .. '/bad4.csv', '1,2,0.5\n')
    H.assert_error(function() D.CSVDataset { path = p, label_dtype = 'int64' } end,
      "line 1, label column 3: '0.5' is not a whole number")
    p = write(tmp .. '/bad5.csv', '1,,0\n')
    H.assert_error(function() D.CSVDataset { path = p } end, "line 1, column 2: '' is not a number")
    H.assert_error(function() D.CSVDataset { path = tmp .. '/h.csv', label_column = 'lable' } end,
      "no column 'lable'")
    H.assert_error(function() D.CSVDataset { path = tmp .. '/d.csv', label_column = 'x' } end, 'needs a header line')
    H.assert_error(function() D.CSVDataset { path = tmp .. '/d.csv', label_column = 10 } end, 'out of range')
    H.assert_error(function() D.CSVDataset { path = tmp .. '/d.csv', dtype = 'float33' } end, 'dtype must be a dtype name')
    H.assert_error(function() D.CSVDataset { path = tmp .. '/none.csv' } end, 'none.csv')
    H.assert_error(function() D.CSVDataset { path = write(tmp .. '/e.csv', '\n\n') } end, 'is empty')
    -- a first line with a bad value is not taken for a header
    p = write(tmp .. '/bad6.csv', '1,two,0\n1,2,0\n')
    H.assert_error(function() D.CSVDataset { path = p } end, "line 1, column 2: 'two' is not a number")
  end)

  it('accepts nan and inf, and applies transforms', function()
    local p = write(tmp .. '/t.csv', '1,nan,-inf,1\n2,3,4,0\n')
    local ds = D.CSVDataset { path = p, transform = function(x) return x:mul_(2) end,
      target_transform = function(y) return y:item() end }
    local s = ds[1]
    assert.are.equal(2, s[1][1])
    assert.truthy(s[1][2] ~= s[1][2])
    assert.are.equal(-math.huge, s[1][3])
    assert.are.equal(1, s[2])
    assert.are.equal(1, ds.features[1][1]) -- the transform got a copy
  end)
end)
