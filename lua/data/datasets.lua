-- Built-in datasets (data.datasets): FashionMNIST and MNIST from IDX files (gzipped
-- or not), CIFAR10/CIFAR100 from their binary versions, ImageFolder (one folder per
-- class) and CSVDataset (numeric columns). Nothing is ever downloaded: a missing file
-- gives an error naming the paths looked at and how to get the files.
--
-- Samples follow torchvision's (image, target) shape with Ember's conventions: the
-- image is what torchvision hands to its transforms as a PIL image, here a uint8
-- C×H×W tensor (1×28×28, 3×32×32; ToTensor turns it into float in [0,1]); class
-- labels are 1-based Lua integers (the files' 0-based labels shifted by one).
local torch = require 'torch'
local data = require 'data'

local datasets = {}
package.loaded['data.datasets'] = datasets -- before the classes: torch.class files them here
data.datasets = datasets

-- ---------------------------------------------------------------- helpers

-- Options: an optional leading positional argument (root or path) and a trailing
-- table; unknown names are errors with a suggestion.
local function parse_opts(what, first_name, names, defaults, a, b)
  local opts
  if type(a) == 'table' and b == nil then
    opts = a
  else
    if b ~= nil and type(b) ~= 'table' then
      error(('%s: expected an options table as argument 2, got %s'):format(what, type(b)), 0)
    end
    opts = {}
    for k, v in pairs(b or {}) do opts[k] = v end
    if a ~= nil then opts[first_name] = a end
  end
  local known = {}
  for _, k in ipairs(names) do known[k] = true end
  for k in pairs(opts) do
    if not known[k] then
      error(("%s: unknown option '%s'%s"):format(what, tostring(k), torch._did_you_mean(tostring(k), names)), 0)
    end
  end
  local res = {}
  for _, k in ipairs(names) do
    local v = opts[k]
    if v == nil then v = defaults[k] end
    res[k] = v
  end
  return res
end

local function is_callable(f)
  if type(f) == 'function' then return true end
  local mt = getmetatable(f)
  return type(mt) == 'table' and mt.__call ~= nil
end

local function check_callable(what, name, f)
  if f ~= nil and not is_callable(f) then
    error(('%s: %s must be a function or a callable object, got %s'):format(what, name, torch.type(f)), 0)
  end
end

local function check_type(what, name, v, ty)
  if type(v) ~= ty then
    error(('%s: %s must be a %s, got %s'):format(what, name, ty, torch.type(v)), 0)
  end
end

-- a readable file that is not a directory (io.open opens directories on Linux)
local function file_exists(path)
  local f = io.open(path, 'rb')
  if not f then return false end
  f:close()
  return torch._listdir(path) == nil
end

local function read_all(path)
  local f, err = io.open(path, 'rb')
  if not f then error(err, 0) end
  local s, rerr = f:read('a')
  f:close()
  if not s then error(path .. ': ' .. tostring(rerr), 0) end
  return s
end

-- 'a/b' .. '/' .. 'c' without doubling slashes
local function join(a, b)
  if a:sub(-1) == '/' then return a .. b end
  return a .. '/' .. b
end

-- A sample's index: an integer in 1..n (datasets are 1-based; no negative indices)
local function check_index(self, i)
  local n = self:__len()
  if math.type(i) ~= 'integer' then
    error(('%s: index must be an integer, got %s'):format(torch.type(self), math.type(i) or type(i)), 0)
  end
  if i < 1 or i > n then
    error(('%s: index %d out of range (the dataset has %d samples, indices 1..%d)'):format(
      torch.type(self), i, n, n), 0)
  end
end

local function apply(self, img, target)
  if self.transform then img = self.transform(img) end
  if self.target_transform then target = self.target_transform(target) end
  return { img, target }
end

local function describe(self, lines)
  local out = { 'Dataset ' .. torch.type(self):match('[^.]+$'),
    '    Number of datapoints: ' .. self:__len() }
  for _, l in ipairs(lines or {}) do out[#out + 1] = '    ' .. l end
  if self.transform then out[#out + 1] = '    Transform: ' .. tostring(self.transform) end
  if self.target_transform then out[#out + 1] = '    Target transform: ' .. tostring(self.target_transform) end
  return table.concat(out, '\n')
end

-- ---------------------------------------------------------------- gzip (RFC 1952)

local function u32le(s, pos)
  return string.unpack('<I4', s, pos)
end

-- The contents of the one-member gzip file s (named path in errors). The member's
-- deflate body is inflated by zlib to exactly the trailer's ISIZE, then checked
-- against the trailer's CRC-32.
function datasets.gunzip(s, path)
  path = path or 'gzip data'
  local function fail(msg, ...) error(('gunzip: %s: ' .. msg):format(path, ...), 0) end
  if #s < 18 then fail('truncated (%d bytes; a gzip file has at least 18)', #s) end
  if s:byte(1) ~= 0x1f or s:byte(2) ~= 0x8b then fail('not a gzip file (bad magic)') end
  if s:byte(3) ~= 8 then fail('unknown compression method %d (only deflate, 8)', s:byte(3)) end
  local flg = s:byte(4)
  if flg & 0xe0 ~= 0 then fail('reserved header flags set (0x%02x)', flg) end
  local pos = 11 -- after ID1 ID2 CM FLG MTIME(4) XFL OS
  if flg & 4 ~= 0 then -- FEXTRA
    if pos + 1 > #s then fail('truncated header') end
    pos = pos + 2 + string.unpack('<I2', s, pos)
  end
  for _, bit in ipairs { 8, 16 } do -- FNAME, FCOMMENT: zero-terminated
    if flg & bit ~= 0 then
      local z = s:find('\0', pos, true)
      if not z then fail('truncated header') end
      pos = z + 1
    end
  end
  if flg & 2 ~= 0 then pos = pos + 2 end -- FHCRC
  if pos + 8 > #s + 1 then fail('truncated header') end
  local crc, isize = u32le(s, #s - 7), u32le(s, #s - 3)
  local ok, out = pcall(torch._inflate, s:sub(pos, #s - 8), isize)
  if not ok then
    out = tostring(out):gsub('^_inflate: ', '')
    if out:find('garbage', 1, true) then
      fail('%s (several gzip members, or data after the end; only single-member files are read)', out)
    end
    fail('%s (truncated or corrupt file?)', out)
  end
  if torch._crc32(out) ~= crc then fail('CRC-32 mismatch: the file is corrupt') end
  return out
end

-- ---------------------------------------------------------------- IDX files

-- IDX type codes -> dtype, element size
local IDX_TYPES = {
  [0x08] = { 'uint8', 1 }, [0x09] = { 'int8', 1 }, [0x0B] = { 'int16', 2 },
  [0x0C] = { 'int32', 4 }, [0x0D] = { 'float32', 4 }, [0x0E] = { 'float64', 8 },
}

-- datasets.read_idx(path [, {ndim=, dtype=}]) -> a tensor of the IDX file's sizes and
-- type; path may end in .gz (gzip). The header is checked strictly: zero magic bytes,
-- a known type, the expected ndim/dtype when given, and a file length that matches
-- the sizes exactly.
function datasets.read_idx(path, opts)
  check_type('read_idx', 'path', path, 'string')
  opts = opts or {}
  local ok, s = pcall(read_all, path)
  if not ok then error('read_idx: ' .. tostring(s), 0) end
  if s:sub(1, 2) == '\x1f\x8b' then
    local gok, out = pcall(datasets.gunzip, s, path)
    if not gok then error('read_idx: ' .. tostring(out), 0) end
    s = out
  end
  local function fail(msg, ...) error(('read_idx: %s: ' .. msg):format(path, ...), 0) end
  if #s < 4 then fail('truncated (%d bytes; an IDX header has at least 4)', #s) end
  local z1, z2, code, ndim = s:byte(1, 4)
  if z1 ~= 0 or z2 ~= 0 or not IDX_TYPES[code] then
    fail('not an IDX file (bad magic %02x %02x %02x %02x)', z1, z2, code, ndim)
  end
  local dtype, esize = IDX_TYPES[code][1], IDX_TYPES[code][2]
  if ndim == 0 then fail('an IDX file must have at least one dimension') end
  if opts.ndim and ndim ~= opts.ndim then fail('expected %d dimensions, the header says %d', opts.ndim, ndim) end
  if opts.dtype and dtype ~= opts.dtype then fail('expected %s data, the header says %s', opts.dtype, dtype) end
  local header = 4 + 4 * ndim
  if #s < header then fail('truncated header (%d bytes, %d dimensions need %d)', #s, ndim, header) end
  local sizes, count = {}, 1
  for d = 1, ndim do
    sizes[d] = string.unpack('>I4', s, 1 + 4 * d)
    count = count * sizes[d]
    if count > #s then break end -- the length check below fails; avoid overflow
  end
  local want = header + count * esize
  if #s ~= want then
    local dims = table.concat(sizes, '×')
    if #s < want then
      fail('truncated: sizes %s need %d bytes, the file has %d', dims, want, #s)
    end
    fail('%d bytes after the data (sizes %s need %d bytes, the file has %d)', #s - want, dims, want, #s)
  end
  if esize > 1 then -- IDX is big-endian
    return torch._tensor_from_bytes(torch._byteswap(s:sub(header + 1), esize), dtype, sizes)
  end
  return torch._tensor_from_bytes(s, dtype, sizes, header + 1)
end

-- ---------------------------------------------------------------- locating files

-- The first of names found in one of dirs, or an error listing every path tried.
local function find_file(what, dirs, names, how)
  local tried = {}
  for _, d in ipairs(dirs) do
    for _, n in ipairs(names) do
      local p = join(d, n)
      if file_exists(p) then return p end
      tried[#tried + 1] = p
    end
  end
  error(('%s: %s not found; looked at:\n  %s\n%s'):format(what, names[1], table.concat(tried, '\n  '), how), 0)
end

-- ---------------------------------------------------------------- MNIST, FashionMNIST

local MNIST = torch.class('data.datasets.MNIST', 'data.Dataset')

MNIST.classes = { '0 - zero', '1 - one', '2 - two', '3 - three', '4 - four', '5 - five', '6 - six',
  '7 - seven', '8 - eight', '9 - nine' }
MNIST.default_root = nil
MNIST.how_to_get = 'MNIST is not downloaded automatically: fetch train-images-idx3-ubyte.gz, '
  .. 'train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz '
  .. '(e.g. from https://ossci-datasets.s3.amazonaws.com/mnist/, a mirror of yann.lecun.com/exdb/mnist) '
  .. 'into a folder and pass {root=that folder}'

local MNIST_OPTS = { 'root', 'train', 'transform', 'target_transform' }

-- MNIST{root=, train=true, transform=, target_transform=} (or MNIST(root, {...})).
-- root holds the four IDX files, gzipped or not (also looked for in root/<Name>/raw,
-- torchvision's layout). Fields: data (uint8 N×28×28), targets (int64 N, 1..10),
-- classes, class_to_idx. ds[i] = {image, label}: image a uint8 1×28×28 tensor (a copy;
-- transform gets it), label a Lua integer in 1..10 (the file's digit + 1).
function MNIST:__init(a, b)
  local cls = getmetatable(self)
  local name = torch.type(self)
  local o = parse_opts(name, 'root', MNIST_OPTS, { root = cls.default_root, train = true }, a, b)
  check_type(name, 'train', o.train, 'boolean')
  check_callable(name, 'transform', o.transform)
  check_callable(name, 'target_transform', o.target_transform)
  if o.root == nil then
    error(('%s: no root given; %s'):format(name, cls.how_to_get), 0)
  end
  check_type(name, 'root', o.root, 'string')
  self.root, self.train = o.root, o.train
  self.transform, self.target_transform = o.transform, o.target_transform
  local short = name:match('[^.]+$')
  local dirs = { o.root, join(o.root, short .. '/raw'), join(o.root, short) }
  local prefix = o.train and 'train' or 't10k'
  local function names(kind, nd)
    local base = ('%s-%s-idx%d-ubyte'):format(prefix, kind, nd)
    local dotted = ('%s-%s.idx%d-ubyte'):format(prefix, kind, nd)
    return { base, base .. '.gz', dotted, dotted .. '.gz' }
  end
  local ipath = find_file(name, dirs, names('images', 3), cls.how_to_get)
  local lpath = find_file(name, dirs, names('labels', 1), cls.how_to_get)
  local ok, images = pcall(datasets.read_idx, ipath, { ndim = 3, dtype = 'uint8' })
  if not ok then error(name .. ': ' .. tostring(images), 0) end
  local lok, labels = pcall(datasets.read_idx, lpath, { ndim = 1, dtype = 'uint8' })
  if not lok then error(name .. ': ' .. tostring(labels), 0) end
  -- The files' bytes went through Lua strings (the gzip file, its inflated contents:
  -- about 100 MB for Fashion-MNIST's training images) that are garbage now; collect
  -- them before the caller converts the images, or they stay in the peak memory.
  collectgarbage()
  local n = images:size(1)
  if labels:size(1) ~= n then
    error(('%s: %s holds %d images but %s holds %d labels'):format(name, ipath, n, lpath, labels:size(1)), 0)
  end
  if n > 0 and labels:max():item() > 9 then
    error(('%s: %s holds a label %d outside 0..9'):format(name, lpath, labels:max():item()), 0)
  end
  self.data = images
  self.targets = labels:to('int64'):add(1)
  self._labels = self.targets:tolist()
  self._shape = { 1, images:size(2), images:size(3) }
  self.class_to_idx = {}
  for i, c in ipairs(self.classes) do self.class_to_idx[c] = i end
end

function MNIST:__len() return #self._labels end

function MNIST:get(i)
  check_index(self, i)
  return apply(self, self.data[i]:reshape(self._shape):clone(), self._labels[i])
end

function MNIST:__tostring()
  return describe(self, { 'Root location: ' .. self.root, 'Split: ' .. (self.train and 'Train' or 'Test') })
end

local FashionMNIST = torch.class('data.datasets.FashionMNIST', 'data.datasets.MNIST')

FashionMNIST.classes = { 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
  'Sneaker', 'Bag', 'Ankle boot' }
FashionMNIST.default_root = '/usr/share/datasets/fashion-mnist'
FashionMNIST.how_to_get = "install Debian's dataset-fashion-mnist (scripts/install-deps does; it puts the "
  .. 'files in /usr/share/datasets/fashion-mnist), or download the four *-ubyte.gz files from '
  .. 'https://github.com/zalandoresearch/fashion-mnist (data/fashion) and pass {root=that folder}'

-- FashionMNIST{root='/usr/share/datasets/fashion-mnist', train=true, transform=,
-- target_transform=}: MNIST's format and fields with Zalando's ten clothing classes.
function FashionMNIST:__init(a, b) MNIST.__init(self, a, b) end

-- ---------------------------------------------------------------- CIFAR-10, CIFAR-100

local CIFAR10 = torch.class('data.datasets.CIFAR10', 'data.Dataset')

CIFAR10.classes = { 'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck' }
CIFAR10.folder = 'cifar-10-batches-bin'
CIFAR10.train_files = { 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin',
  'data_batch_5.bin' }
CIFAR10.test_files = { 'test_batch.bin' }
CIFAR10.label_bytes = 1
CIFAR10.how_to_get = 'CIFAR-10 is not downloaded automatically: fetch the binary version '
  .. '(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), unpack it with tar xzf, and pass '
  .. '{root=the folder holding cifar-10-batches-bin}'

-- Reads the records of a CIFAR binary file: label_bytes label bytes then 3072 pixel
-- bytes (R, G, B planes of 32×32) each. -> labels uint8 N×label_bytes, images uint8 N×3×32×32
local function read_cifar(name, path, label_bytes)
  local ok, s = pcall(read_all, path)
  if not ok then error(name .. ': ' .. tostring(s), 0) end
  local rec = label_bytes + 3072
  if #s == 0 or #s % rec ~= 0 then
    error(('%s: %s is %d bytes, not a whole number of %d-byte records (%d label byte%s + 3072 pixels)'):format(
      name, path, #s, rec, label_bytes, label_bytes > 1 and 's' or ''), 0)
  end
  local n = #s // rec
  local t = torch._tensor_from_bytes(s, 'uint8', { n, rec })
  return t:narrow(2, 1, label_bytes):contiguous(), t:narrow(2, label_bytes + 1, 3072):reshape(n, 3, 32, 32)
end

local CIFAR_OPTS = { 'root', 'train', 'transform', 'target_transform', 'label_mode' }

-- CIFAR10{root=, train=true, transform=, target_transform=} (or CIFAR10(root, {...})):
-- the binary version; root is the folder holding cifar-10-batches-bin, or that folder
-- itself. Fields: data (uint8 N×3×32×32), targets (int64 N, 1..10), classes (from
-- batches.meta.txt when present), class_to_idx. ds[i] = {image, label}: image a uint8
-- 3×32×32 tensor (a copy), label a Lua integer in 1..10.
function CIFAR10:__init(a, b)
  local cls = getmetatable(self)
  local name = torch.type(self)
  local o = parse_opts(name, 'root', CIFAR_OPTS, { train = true }, a, b)
  check_type(name, 'train', o.train, 'boolean')
  check_callable(name, 'transform', o.transform)
  check_callable(name, 'target_transform', o.target_transform)
  if o.root == nil then error(('%s: no root given; %s'):format(name, cls.how_to_get), 0) end
  check_type(name, 'root', o.root, 'string')
  local nclasses = #cls.classes
  local label_col = 1
  if cls.label_bytes == 2 then
    local mode = o.label_mode or 'fine'
    if mode ~= 'fine' and mode ~= 'coarse' then
      error(("%s: label_mode must be 'fine' or 'coarse', got %s"):format(name, tostring(mode)), 0)
    end
    self.label_mode = mode
    label_col = mode == 'coarse' and 1 or 2
    nclasses = mode == 'coarse' and 20 or 100
  elseif o.label_mode ~= nil then
    error(name .. ": label_mode is CIFAR100's option (CIFAR-10 has one label per image)", 0)
  end
  self.root, self.train = o.root, o.train
  self.transform, self.target_transform = o.transform, o.target_transform
  local files = o.train and cls.train_files or cls.test_files
  local labels, images, dir = {}, {}, nil
  for k, f in ipairs(files) do
    local path = find_file(name, { join(o.root, cls.folder), o.root }, { f }, cls.how_to_get)
    dir = path:sub(1, #path - #f - 1) -- where the meta files are too
    labels[k], images[k] = read_cifar(name, path, cls.label_bytes)
    local top = labels[k]:select(2, label_col):max():item()
    if top >= nclasses then
      error(('%s: %s holds a label %d outside 0..%d'):format(name, path, top, nclasses - 1), 0)
    end
  end
  local lab = #labels == 1 and labels[1] or torch.cat(labels, 1)
  self.data = #images == 1 and images[1] or torch.cat(images, 1)
  self.targets = lab:select(2, label_col):to('int64'):add(1)
  self._labels = self.targets:tolist()
  self.classes = cls.read_classes(dir, self.label_mode)
    or (self.label_mode == 'coarse' and cls.coarse_classes or cls.classes)
  self.class_to_idx = {}
  for i, c in ipairs(self.classes) do self.class_to_idx[c] = i end
end

-- class names from a meta file (one per line), or nil when absent
local function read_names(path)
  local f = io.open(path, 'r')
  if not f then return nil end
  local names = {}
  for line in f:lines() do
    line = line:gsub('%s+$', '')
    if line ~= '' then names[#names + 1] = line end
  end
  f:close()
  return #names > 0 and names or nil
end

function CIFAR10.read_classes(dir)
  local names = read_names(join(dir, 'batches.meta.txt'))
  return names and #names == 10 and names or nil
end

function CIFAR10:__len() return #self._labels end

function CIFAR10:get(i)
  check_index(self, i)
  return apply(self, self.data[i]:clone(), self._labels[i])
end

function CIFAR10:__tostring()
  return describe(self, { 'Root location: ' .. self.root, 'Split: ' .. (self.train and 'Train' or 'Test') })
end

local CIFAR100 = torch.class('data.datasets.CIFAR100', 'data.datasets.CIFAR10')

CIFAR100.classes = {
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
}
CIFAR100.coarse_classes = {
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
  'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores',
  'large_man-made_outdoor_things', 'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores',
  'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees',
  'vehicles_1', 'vehicles_2',
}
CIFAR100.folder = 'cifar-100-binary'
CIFAR100.train_files = { 'train.bin' }
CIFAR100.test_files = { 'test.bin' }
CIFAR100.label_bytes = 2
CIFAR100.how_to_get = 'CIFAR-100 is not downloaded automatically: fetch the binary version '
  .. '(https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz), unpack it with tar xzf, and pass '
  .. '{root=the folder holding cifar-100-binary}'

-- CIFAR100{root=, train=true, label_mode='fine'|'coarse', transform=, target_transform=}:
-- cifar-100-binary's train.bin / test.bin (a coarse and a fine label byte per record);
-- labels 1..100 (fine) or 1..20 (coarse); otherwise as CIFAR10.
function CIFAR100:__init(a, b) CIFAR10.__init(self, a, b) end

function CIFAR100.read_classes(dir, mode)
  local names = read_names(join(dir, (mode == 'coarse' and 'coarse' or 'fine') .. '_label_names.txt'))
  return names and #names == (mode == 'coarse' and 20 or 100) and names or nil
end

-- ---------------------------------------------------------------- ImageFolder

local ImageFolder = torch.class('data.datasets.ImageFolder', 'data.Dataset')

local IMAGEFOLDER_OPTS = { 'root', 'transform', 'target_transform', 'loader', 'extensions', 'is_valid_file',
  'allow_empty' }

-- the default loader: image.load as uint8 RGB (torchvision's loader converts to RGB)
local function default_loader(path)
  local ok, image = pcall(require, 'image')
  if not ok then
    error('ImageFolder: the default loader needs the image package (' .. tostring(image) .. '); pass {loader=}', 0)
  end
  return image.load(path, { channels = 3, dtype = 'byte' })
end

-- files under dir that pass keep(path), in torchvision's order: every folder below dir
-- (symbolic links followed) with its files sorted, the folders sorted by path (so a
-- folder's own files come before its subfolders'); os.walk + sorted() in Python
local function walk(dir, keep)
  local folders = {}
  local function visit(d, depth)
    if depth > 64 then error('ImageFolder: folders nested more than 64 deep under ' .. dir .. ' (a link loop?)', 0) end
    local names, kinds = torch._listdir(d)
    if not names then return end
    local files = {}
    folders[#folders + 1] = { d, files }
    for k, n in ipairs(names) do
      local p = join(d, n)
      if kinds[k] == 'file' then
        if keep(p) then files[#files + 1] = p end
      elseif kinds[k] == 'directory' then
        visit(p, depth + 1)
      end
    end
  end
  visit(dir, 1)
  table.sort(folders, function(a, b) return a[1] < b[1] end)
  local out = {}
  for _, f in ipairs(folders) do
    for _, p in ipairs(f[2]) do out[#out + 1] = p end
  end
  return out
end

-- ImageFolder{root=, transform=, target_transform=, loader=, extensions={'.png'},
-- is_valid_file=, allow_empty=false} (or ImageFolder(root, {...})): root/<class>/…/<file>.
-- Classes are root's subfolders sorted by name, labelled 1..K; files are sorted within a
-- class (subfolders searched too). Fields: classes, class_to_idx, samples ({path, label}
-- pairs), targets. ds[i] = {loader(path), label}; the default loader is
-- image.load(path, {channels=3, dtype='byte'}) (uint8 3×H×W, as torchvision's RGB PIL
-- image). Extensions are matched case-insensitively.
function ImageFolder:__init(a, b)
  local name = torch.type(self)
  local o = parse_opts(name, 'root', IMAGEFOLDER_OPTS, { extensions = { '.png' }, allow_empty = false }, a, b)
  if o.root == nil then error(name .. ': no root given (the folder holding one subfolder per class)', 0) end
  check_type(name, 'root', o.root, 'string')
  check_callable(name, 'transform', o.transform)
  check_callable(name, 'target_transform', o.target_transform)
  check_callable(name, 'loader', o.loader)
  check_callable(name, 'is_valid_file', o.is_valid_file)
  local exts = o.extensions
  if type(exts) == 'string' then exts = { exts } end
  if o.is_valid_file and a ~= nil and (type(a) == 'table' and a.extensions or type(b) == 'table' and b.extensions) then
    error(name .. ': give extensions or is_valid_file, not both', 0)
  end
  check_type(name, 'extensions', exts, 'table')
  local lower = {}
  for k, e in ipairs(exts) do
    check_type(name, 'extensions[' .. k .. ']', e, 'string')
    lower[k] = e:lower()
  end
  local keep = o.is_valid_file or function(p)
    local l = p:lower()
    for _, e in ipairs(lower) do
      if l:sub(-#e) == e then return true end
    end
    return false
  end
  local names, kinds = torch._listdir(o.root)
  if not names then error(('%s: cannot read the folder %s (%s)'):format(name, o.root, kinds), 0) end
  local classes = {}
  for k, n in ipairs(names) do
    if kinds[k] == 'directory' then classes[#classes + 1] = n end
  end
  if #classes == 0 then
    error(('%s: no class folders in %s (expected root/<class>/<image>)'):format(name, o.root), 0)
  end
  local samples, targets, empty = {}, {}, {}
  for label, c in ipairs(classes) do
    local files = walk(join(o.root, c), keep)
    if #files == 0 then empty[#empty + 1] = c end
    for _, p in ipairs(files) do
      samples[#samples + 1] = { p, label }
      targets[#targets + 1] = label
    end
  end
  if #empty > 0 and not o.allow_empty then
    local what = o.is_valid_file and 'files that is_valid_file accepts'
      or 'files with extension ' .. table.concat(lower, ', ')
    error(('%s: no %s in the class folder%s %s of %s (pass {allow_empty=true} to keep them)'):format(
      name, what, #empty > 1 and 's' or '', table.concat(empty, ', '), o.root), 0)
  end
  self.root, self.classes, self.samples, self.targets, self.imgs = o.root, classes, samples, targets, samples
  self.class_to_idx = {}
  for i, c in ipairs(classes) do self.class_to_idx[c] = i end
  self.loader = o.loader or default_loader
  self.extensions = lower
  self.transform, self.target_transform = o.transform, o.target_transform
end

function ImageFolder:__len() return #self.samples end

function ImageFolder:get(i)
  check_index(self, i)
  local s = self.samples[i]
  return apply(self, self.loader(s[1]), s[2])
end

function ImageFolder:__tostring()
  return describe(self, { 'Root location: ' .. self.root, 'Classes: ' .. #self.classes })
end

-- ---------------------------------------------------------------- CSV

local CSVDataset = torch.class('data.datasets.CSVDataset', 'data.Dataset')

local CSV_OPTS = { 'path', 'header', 'label_column', 'delimiter', 'dtype', 'label_dtype', 'transform',
  'target_transform' }

local NUMBER = '^[+-]?%d*%.?%d*[eE]?[+-]?%d*$'
local SPECIAL = { nan = 0 / 0, ['+nan'] = 0 / 0, ['-nan'] = 0 / 0, inf = math.huge, ['+inf'] = math.huge,
  ['-inf'] = -math.huge, infinity = math.huge, ['+infinity'] = math.huge, ['-infinity'] = -math.huge }

-- a decimal number (no hex, no Lua-only forms), or nil
local function parse_number(field)
  local f = field:match('^%s*(.-)%s*$')
  if f:find(NUMBER) and f:find('%d') then
    local v = tonumber(f)
    if v then return v end
  end
  return SPECIAL[f:lower()]
end

local function split(line, delim)
  local fields, pos = {}, 1
  while true do
    local a, b = line:find(delim, pos, true)
    if not a then
      fields[#fields + 1] = line:sub(pos)
      return fields
    end
    fields[#fields + 1] = line:sub(pos, a - 1)
    pos = b + 1
  end
end

local function unquote(s)
  s = s:match('^%s*(.-)%s*$')
  return s:match('^"(.*)"$') or s
end

-- CSVDataset{path=, header=auto, label_column=-1, delimiter=',', dtype='float32',
-- label_dtype='float32', transform=, target_transform=} (or CSVDataset(path, {...})):
-- a file of numeric columns, one sample per line (blank lines skipped, \r\n accepted).
-- header: true, false, or nil to treat the first line as a header when none of its
-- fields is a number (or empty). label_column: a 1-based column number (negative counts from
-- the end), a header name, or false for no label. ds[i] = {features, label}: features a
-- 1-D tensor of dtype, label a 0-dim tensor of label_dtype (so the default collate keeps
-- the dtype) — taken as it is in the file, not shifted to 1-based; label_dtype='int64'
-- requires whole numbers. With label_column=false, ds[i] = {features}.
-- Fields: features (N×F), labels (N), columns (header names or nil), feature_names.
function CSVDataset:__init(a, b)
  local name = torch.type(self)
  local o = parse_opts(name, 'path', CSV_OPTS,
    { label_column = -1, delimiter = ',', dtype = 'float32', label_dtype = 'float32' }, a, b)
  if o.path == nil then error(name .. ': no path given', 0) end
  check_type(name, 'path', o.path, 'string')
  check_type(name, 'delimiter', o.delimiter, 'string')
  if o.delimiter == '' then error(name .. ': delimiter must not be empty', 0) end
  if o.header ~= nil then check_type(name, 'header', o.header, 'boolean') end
  check_callable(name, 'transform', o.transform)
  check_callable(name, 'target_transform', o.target_transform)
  for _, k in ipairs { 'dtype', 'label_dtype' } do
    local ok = pcall(torch.empty, 0, { dtype = o[k] })
    if not ok then error(('%s: %s must be a dtype name, got %s'):format(name, k, tostring(o[k])), 0) end
  end
  local ok, text = pcall(read_all, o.path)
  if not ok then error(name .. ': ' .. tostring(text), 0) end
  local path = o.path
  local rows, lineno, header, ncols = {}, 0, nil, nil
  local first = true
  for line in (text .. '\n'):gmatch('([^\n]*)\n') do
    lineno = lineno + 1
    line = line:gsub('\r$', '')
    if line:find('%S') then
      local fields = split(line, o.delimiter)
      if first then
        first = false
        local is_header = o.header
        if is_header == nil then -- a header when none of its fields is a number
          is_header = true
          for _, f in ipairs(fields) do
            if parse_number(f) or not f:find('%S') then is_header = false end
          end
        end
        ncols = #fields
        if is_header then
          header = {}
          for k, f in ipairs(fields) do header[k] = unquote(f) end
          goto continue
        end
      end
      if #fields ~= ncols then
        error(('%s: %s line %d has %d columns, expected %d (as on the first line)'):format(
          name, path, lineno, #fields, ncols), 0)
      end
      local row = {}
      for k, f in ipairs(fields) do
        local v = parse_number(f)
        if not v then
          local col = header and ("column %d ('%s')"):format(k, header[k]) or ('column %d'):format(k)
          error(("%s: %s line %d, %s: '%s' is not a number"):format(name, path, lineno, col, f), 0)
        end
        row[k] = v
      end
      rows[#rows + 1] = { lineno, row }
    end
    ::continue::
  end
  if not ncols then error(('%s: %s is empty'):format(name, path), 0) end
  -- the label column
  local lc = o.label_column
  if lc ~= false then
    if type(lc) == 'string' then
      if not header then error(('%s: label_column %q needs a header line, and %s has none'):format(name, lc, path), 0) end
      local found
      for k, h in ipairs(header) do if h == lc then found = k end end
      if not found then
        error(("%s: no column '%s' in %s's header%s"):format(name, lc, path, torch._did_you_mean(lc, header)), 0)
      end
      lc = found
    elseif math.type(lc) == 'integer' then
      if lc < 0 then lc = ncols + 1 + lc end
      if lc < 1 or lc > ncols then
        error(('%s: label_column %d out of range (the file has %d columns)'):format(name, o.label_column, ncols), 0)
      end
    else
      error(('%s: label_column must be a column number, a header name or false, got %s'):format(
        name, torch.type(lc)), 0)
    end
    if ncols < 2 then error(('%s: %s has one column: no features besides the label'):format(name, path), 0) end
  end
  local nfeat = lc and ncols - 1 or ncols
  local flat, labels = {}, {}
  local int_label = o.label_dtype ~= 'float32' and o.label_dtype ~= 'float64' and o.label_dtype ~= 'float16'
    and o.label_dtype ~= 'bfloat16'
  for r, entry in ipairs(rows) do
    local row = entry[2]
    for k = 1, ncols do
      if k == lc then
        local v = row[k]
        if int_label and (v ~= v or v ~= math.floor(v) or v == math.huge or v == -math.huge) then
          error(("%s: %s line %d, label column %d: '%s' is not a whole number (label_dtype %s)"):format(
            name, path, entry[1], k, tostring(v), o.label_dtype), 0)
        end
        labels[r] = v
      else
        flat[#flat + 1] = row[k]
      end
    end
  end
  local n = #rows
  self.path, self.columns = path, header
  self.features = n > 0 and torch.tensor(flat, { dtype = o.dtype }):reshape(n, nfeat)
    or torch.empty(0, nfeat, { dtype = o.dtype })
  if lc then
    self.labels = n > 0 and torch.tensor(labels, { dtype = o.label_dtype }) or torch.empty(0, { dtype = o.label_dtype })
  end
  self.label_column = lc or nil
  if header then
    self.feature_names = {}
    for k, h in ipairs(header) do
      if k ~= lc then self.feature_names[#self.feature_names + 1] = h end
    end
  end
  self.transform, self.target_transform = o.transform, o.target_transform
  self._n = n
end

function CSVDataset:__len() return self._n end

function CSVDataset:get(i)
  check_index(self, i)
  local x = self.features[i]:clone()
  if self.transform then x = self.transform(x) end
  if not self.labels then return { x } end
  local y = self.labels:select(1, i):clone()
  if self.target_transform then y = self.target_transform(y) end
  return { x, y }
end

function CSVDataset:__tostring()
  return describe(self, { 'Path: ' .. self.path, 'Features: ' .. self.features:size(2) })
end

return datasets
