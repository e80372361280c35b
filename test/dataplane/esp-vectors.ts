// Published known-answer data, kept apart from the assertions so each value can be checked
// against its source by eye. Hex strings may contain whitespace.

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** An AEAD-level vector: nonce is salt(4) || iv(8). */
export interface AeadVector {
  name: string;
  suite: 'aes-gcm-128' | 'aes-gcm-256' | 'chacha20-poly1305';
  key: string;
  salt: string;
  iv: string;
  aad: string;
  plain: string;
  cipherText: string;
  tag: string;
}

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised spec, Appendix B,
// test cases 3, 4 (AES-128) and 15, 16 (AES-256), all with a 96-bit IV.
const GCM_K = 'feffe9928665731c6d6a8f9467308308';
const GCM_P = `d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
               1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255`;
const GCM_P60 = GCM_P.replace(/\s+/g, '').slice(0, 120);
const GCM_A = 'feedfacedeadbeeffeedfacedeadbeef abaddad2';
const GCM_C128 = `42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e
                  21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091473f5985`;
const GCM_C256 = `522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                  8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662898015ad`;

export const AEAD_VECTORS: AeadVector[] = [
  {
    name: 'GCM spec test case 3 (AES-128, no AAD)',
    suite: 'aes-gcm-128', key: GCM_K, salt: 'cafebabe', iv: 'facedbaddecaf888', aad: '',
    plain: GCM_P, cipherText: GCM_C128, tag: '4d5c2af327cd64a62cf35abd2ba6fab4',
  },
  {
    name: 'GCM spec test case 4 (AES-128, 20-byte AAD, 60-byte plaintext)',
    suite: 'aes-gcm-128', key: GCM_K, salt: 'cafebabe', iv: 'facedbaddecaf888', aad: GCM_A,
    plain: GCM_P60, cipherText: GCM_C128.replace(/\s+/g, '').slice(0, 120), tag: '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    name: 'GCM spec test case 15 (AES-256, no AAD)',
    suite: 'aes-gcm-256', key: GCM_K + GCM_K, salt: 'cafebabe', iv: 'facedbaddecaf888', aad: '',
    plain: GCM_P, cipherText: GCM_C256, tag: 'b094dac5d93471bdec1a502270e3cc6c',
  },
  {
    name: 'GCM spec test case 16 (AES-256, 20-byte AAD, 60-byte plaintext)',
    suite: 'aes-gcm-256', key: GCM_K + GCM_K, salt: 'cafebabe', iv: 'facedbaddecaf888', aad: GCM_A,
    plain: GCM_P60, cipherText: GCM_C256.replace(/\s+/g, '').slice(0, 120), tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
  {
    // RFC 8439 §2.8.2. Its 12-byte nonce 07000000 4041424344454647 splits as salt || IV.
    name: 'RFC 8439 §2.8.2 ChaCha20-Poly1305 AEAD',
    suite: 'chacha20-poly1305',
    key: '808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f',
    salt: '07000000', iv: '4041424344454647', aad: '50515253c0c1c2c3c4c5c6c7',
    plain: Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    ).toString('hex'),
    cipherText: `d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6
                 3dbea45e8ca9671282fafb69da92728b 1a71de0a9e060b2905d6a5b67ecd3b36
                 92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
                 3ff4def08e4b7a9de576d26586cec64b 6116`,
    tag: '1ae10b594f09e26a7e902ecbd0600691',
  },
];

/**
 * A whole ESP packet. `plain` is the ESP plaintext as the source prints it: payload, padding,
 * pad length and next header, so the payload and next header fed to the sealer are derived
 * from its last two bytes. `seq` has 8 hex digits for a 32-bit SA and 16 for an ESN SA.
 */
export interface EspVector {
  name: string;
  suite: 'aes-gcm-128' | 'aes-gcm-256' | 'chacha20-poly1305';
  key: string;
  salt: string;
  spi: string;
  seq: string;
  iv: string;
  plain: string;
  packet: string;
}

// RFC 7634 Appendix A: tunnel-mode ESP carrying an ICMP echo, next header 4 like IIPtran.
export const RFC7634_ESP: EspVector = {
  name: 'RFC 7634 Appendix A (ChaCha20-Poly1305 ESP example)',
  suite: 'chacha20-poly1305',
  key: '808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f',
  salt: 'a0a1a2a3',
  spi: '01020304',
  seq: '00000005',
  iv: '1011121314151617',
  plain: `45000054a6f20000 4001e778c6336405
          c0000205 08005b7a3a080000553bec10
          0007362708090a0b0c0d0e0f10111213
          1415161718191a1b1c1d1e1f20212223
          2425262728292a2b2c2d2e2f30313233
          3435363701020204`,
  packet: `01020304 00000005 1011121314151617
           24039428b97f417e3c13753a4f05087b 67c352e6a7fab1b982d466ef407ae5c6
           14ee8099d52844eb61aa95dfab4c02f7 2aa71e7c4c4f64c9befe2facc638e8f3
           cbec163fac469b502773f6fb94e664da 9165b82829f641e0
           76aaa8266b7fb0f7b11b369907e1ad43`,
};

// draft-mcgrew-gcm-test-01 §4, the AES-GCM ESP test cases (the AES-192 one, case 7, is left
// out: we have no such suite). The draft prints the 12-byte nonce; salt and IV are its halves.
export const MCGREW_ESP: EspVector[] = [
  {
    name: 'draft-mcgrew-gcm-test-01 case 1 (AES-128, ESN, seq low 0)',
    suite: 'aes-gcm-128', key: '4c80cdefbb5d10da906ac73c3613a634', salt: '2e443b68',
    spi: '00004321', seq: '8765432100000000', iv: '4956ed7e3b244cfe',
    plain: `45000048699a000080114db7c0a80102 c0a801010a9bf15638d3010000010000
            00000000045f736970045f7564700373 69700963796265726369747902646b00
            0021000101020201`,
    packet: `00004321000000004956ed7e3b244cfe fecf537e729d5b07dc30df528dd22b76
             8d1b98736696a6fd348509fa13ceac34 cfa2436f14a3f3cf65925bf1f4a13c5d
             15b21e1884f5ff6247aeabb786b93bce 61bc17d768fd9732459018148f6cbe72
             2fd04796562dfdb4`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 2 (AES-128, 32-bit seq, no padding)',
    suite: 'aes-gcm-128', key: 'feffe9928665731c6d6a8f9467308308', salt: 'cafebabe',
    spi: '0000a5f8', seq: '0000000a', iv: 'facedbaddecaf888',
    plain: `4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
            00010000000000000373697009637962 65726369747902646b00000100010001`,
    packet: `0000a5f80000000afacedbaddecaf888 deb22cd9b07c72c16e3a65beeb8df304
             a5a5897d33ae530f1ba76d5d114d2a5c 3de81827c10e9a4f51330d0eec416642
             cfbb85a5b47e48a4ec3b9ba95d918bd1 83b70d3aa8bc6ee4c309e9d85a41ad4a`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 3 (AES-256, 32-bit seq)',
    suite: 'aes-gcm-256', key: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab', salt: '11223344',
    spi: '4a2cbfe3', seq: '00000002', iv: '0102030405060708',
    plain: `4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
            7002400020bf0000020405b401010402 01020201`,
    packet: `4a2cbfe3000000020102030405060708 ff425c9b724599df7a3bcd510194e00d
             6a78107f1b0b1cbf06efae9d65a5d763 748a637985771d347f0545659f14e99d
             ef842d8eb335f4eecfdbf831824b4c49 15956c96`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 4 (AES-128, all-zero key, SPI 0)',
    suite: 'aes-gcm-128', key: '00000000000000000000000000000000', salt: '00000000',
    spi: '00000000', seq: '00000001', iv: '0000000000000000',
    plain: `4500003c99c500008001cb7a40679318 010101010800075c0200440061626364
            65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201`,
    packet: `00000000000000010000000000000000 4688daf2f973a392732909c331d56d60
             f694abaa414b5e7ff5fdcdfff5e9a284 456476492719ffb64de7d9dca1e1d894
             bc3bd57873ed4d181d19d4d5c8c18af3 f821d496eeb096e98ad2b69e4799c71d`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 5 (AES-128, ESN)',
    suite: 'aes-gcm-128', key: '3de09874b388e6491988d0c3607eae1f', salt: '57690e43',
    spi: '42f67e3f', seq: '1010101010101010', iv: '4e280000a2fca1a3',
    plain: `4500003c99c300008001cb7c40679318 010101010800085c0200430061626364
            65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201`,
    packet: `42f67e3f101010104e280000a2fca1a3 fba2caa4853cf9f0f22cb10d86dd83b0
             fec75691cf1a04b00d1138ec9c357917 65acbd8701ad79845bf9fe3fba487bc9
             1755e6662b4c8d0d1f5e22739530320a e0d731cc978ecafaeae88f00e80d6e48`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 6 (AES-128, ESN, short packet)',
    suite: 'aes-gcm-128', key: '3de09874b388e6491988d0c3607eae1f', salt: '57690e43',
    spi: '42f67e3f', seq: '1010101010101010', iv: '4e280000a2fca1a3',
    plain: `4500001c42a200008001441f406793b6 e00000020a00f5ff01020201`,
    packet: `42f67e3f101010104e280000a2fca1a3 fba2ca845e5df9f0f22c3e6e86dd831e
             1fc65792cd1af9130e1379ed369f071f 35e034be95f112e4e7d05d35`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 8 (AES-128, ESN, seq 1, 1 pad byte)',
    suite: 'aes-gcm-128', key: 'abbccddef00112233445566778899aab', salt: 'decaf888',
    spi: '00000100', seq: '0000000000000001', iv: 'cafedebaceface74',
    plain: `4500004933ba00007f119106c3fb1d10 c2b1d326c02831ce0035dd7b800302d5
            00004e20001e8c18d75b81dc91baa047 6b91b924b280389d92c963bac046ec95
            9b6266c04722b14923010101`,
    packet: `0000010000000001cafedebaceface74 18a6fd42f72cbf4ab2a2ea901f73d814
             e3e7f243d95412e1c349c1d2fbec168f 9190feebaf2cb01984e65863965d7472
             b79da345e0e780191f0d2f0e0f496c22 6f2127b27db35724e7845d68651f57e6
             5f354f75ff17015769623436`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 9 (AES-256, ESN)',
    suite: 'aes-gcm-256', key: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab', salt: '73616c74',
    spi: '17405e67', seq: '156f3126dd0db99b', iv: '616e640169766563',
    plain: `45080028732c00004006e9f90a010612 0a01038f06b88023dd6bafbecb712602
            50101f646d540001`,
    packet: `17405e67dd0db99b616e640169766563 f2d69ecdbd5a0d5b8d5ef38bad4da58d
             1f278fde98ef67549d524a3018d9a57f f4d3a31ce673119e451626c2415771e3
             b7eebca614c89b35`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 10 (AES-128, ESN, 1 pad byte)',
    suite: 'aes-gcm-128', key: '3de09874b388e6491988d0c3607eae1f', salt: '57690e43',
    spi: '42f67e3f', seq: '1010101010101010', iv: '4e280000a2fca1a3',
    plain: `45000049333e00007f119182c3fb1d10 c2b1d326c02831ce0035cb458003025b
            000001e0001e8c18d65759d52284a035 2c71475c8880391c764d6e5ee0496b32
            5ae270c03899493915010101`,
    packet: `42f67e3f101010104e280000a2fca1a3 fba2cad12fc1f9f00d3cebf305410db8
             3d7784b607323d220f24b0a97d541828 00cadb0f68d99ef0e0c0c89ae9bea888
             4e52d65bc1afd0740f742444747b5b39 ab533163aad4550ee5160975cdb608c5
             769189609763b8e18caa81e2`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 11 (AES-256, ESN, non-IP payload)',
    suite: 'aes-gcm-256', key: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab', salt: '73616c74',
    spi: '17405e67', seq: '156f3126dd0db99b', iv: '616e640169766563',
    plain: `636973636f0172756c65730174686501 6e6574776501646566696e6501746865
            746563686e6f6c6f6769657301746861 7477696c6c01646566696e65746f6d6f
            72726f7701020201`,
    packet: `17405e67dd0db99b616e640169766563 d4b7ed86a1777f2ea13d6973d324c69e
             7b43f826fb56831226508bebd2dceb18 d0a6df10e5487df074113e14c641024e
             3e6773d91a62ee429b043a10e3efe6b0 12a49363412364f8c0cac587f249e56b
             11e24f30e44ccc76`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 12 (AES-128, seq 2^32-1, empty payload)',
    suite: 'aes-gcm-128', key: '7d773d00c144c525ac619d18c84a3f47', salt: 'd9664267',
    spi: '335467ae', seq: 'ffffffff', iv: '43457e9182443bc6',
    plain: '01020201',
    packet: `335467aeffffffff43457e9182443bc6 437f866bcb3f699fe9b0822bac961c45 04bef270`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 13 (AES-128, ESN, seq 1, no padding)',
    suite: 'aes-gcm-128', key: 'abbccddef00112233445566778899aab', salt: 'decaf888',
    spi: '00000100', seq: '0000000000000001', iv: 'cafedebaceface74',
    plain: `746f016265016f72016e6f7401746f01 62650001`,
    packet: `0000010000000001cafedebaceface74 29c9fc69a197d038ccdd14e2ddfcaa05
             43332164412503524303ed3c6c5f2838 43af8c3e`,
  },
  {
    name: 'draft-mcgrew-gcm-test-01 case 14 (AES-256, ESN, seq 2^64-1)',
    suite: 'aes-gcm-256', key: '6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961', salt: '7475726e',
    spi: '796b6963', seq: 'ffffffffffffffff', iv: '333021696765746d',
    plain: `45000030da3a00008001df3bc0a80005 c0a800010800c6cd0200070061626364
            65666768696a6b6c6d6e6f7071727374 01020201`,
    packet: `796b6963ffffffff333021696765746d f97ab2aa356d8edce17644ac8c78e25d
             d24dedbb29ebf1b64a274b39b49c3a86 4cd3d78ca4ae68a32b42458fb57dbe82
             1dcc63b9d0937ba2945f669368661a32 9fb4c053`,
  },
];
